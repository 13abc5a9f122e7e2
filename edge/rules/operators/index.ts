export {
  CHATTERING_DEFAULTS,
  type ChatteringOptions,
  type ChatteringState,
  chattering,
  chatteringEndsAt,
  chatteringOperator,
  isChattering,
  recordActivation,
} from './chattering.js';
export { allOf, type ConfirmState, confirmedBy, confirmOperator, isConfirmed } from './confirmed-by.js';
export {
  type DelayState,
  delayInit,
  delayStep,
  delayWakeAt,
  offDelay,
  offDelayOperator,
  onDelay,
  onDelayOperator,
} from './delay.js';
export {
  type HysteresisOptions,
  type HysteresisState,
  hysteresis,
  hysteresisOperator,
  hysteresisStep,
} from './hysteresis.js';
export { type LatchState, latchOperator, latchReset, latchUntilReset, RESET } from './latch-until-reset.js';
export { type NOfMOptions, type NOfMState, nOfM, nOfMOperator } from './n-of-m.js';
export {
  type RateOfChangeOptions,
  type RateState,
  rateOfChange,
  rateOfChangeOperator,
  ratePerSecond,
  rateStep,
} from './rate-of-change.js';
export { type ScheduleState, scheduleOperator, scheduleWindow } from './schedule-window.js';
export { resumeStale, type StaleOptions, type StaleState, staleAfter, staleOperator } from './stale-after.js';
export {
  type Keyed,
  type KeyedOptions,
  type KeyedStats,
  keyed,
  NONE,
  type None,
  type StepOperator,
  single,
  TICK,
  type Tick,
  WakeQueue,
} from './step.js';
