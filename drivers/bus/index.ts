export { exponentialDelayMs as backoffDelayMs } from '../../common/backoff.js';
export { SampleWindow } from './samples.js';
export { BusScheduler } from './scheduler.js';
export type {
  BackoffPolicy,
  BusSchedulerOptions,
  BusStats,
  Percentiles,
  PollBlock,
  PollFailure,
  PollPriority,
  PollResult,
  PollTask,
  StallEvent,
  TcpEndpoint,
  WriteCommand,
} from './types.js';
