import { z } from 'zod';
import { ReadingValue } from './reading.js';
import { DeviceId, GatewayId, PointId } from './site.js';

/**
 * Severity drives escalation policy and outbox priority. critical: fire, gas high (immediate, to
 * two tiers); major: gas low, water pressure, fire door, fire lane, manhole; minor: device faults,
 * offline, low battery, heartbeat lost; info: test and maintenance events.
 */
export const AlarmSeverity = z.enum(['critical', 'major', 'minor', 'info']);
export type AlarmSeverity = z.infer<typeof AlarmSeverity>;

/** Alarm types are slugs: `smoke`, `fire_confirmed`, `gas_low`, `gas_high`, `pressure_low` … */
export const AlarmType = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/);

/**
 * raised: the condition became active (after on-delay); cleared: it is no longer active (after
 * off-delay / deadband); reset: a latched alarm was explicitly reset by a person or command.
 */
export const AlarmState = z.enum(['raised', 'cleared', 'reset']);
export type AlarmState = z.infer<typeof AlarmState>;

/**
 * What detected an alarm's condition. device: the detector's own alarm output (a gas detector's AL1
 * bit, a smoke detector's alarm bit, a door monitor's state); threshold: doorstep's set point on a
 * measured value (%LEL, MPa, degrees, %); watchdog: doorstep's own supervision (link offline, no
 * data, heartbeat stopped). When a device's output and doorstep's set point watch the same
 * quantity they feed one alarm (docs/architecture.md invariant 7), and `sources` says which of them saw it.
 */
export const AlarmSource = z.enum(['device', 'threshold', 'watchdog']);
export type AlarmSource = z.infer<typeof AlarmSource>;

/**
 * One change of one alarm. `id` identifies the alarm occurrence from edge to cloud (docs/architecture.md
 * invariant 7): every transition of the same occurrence (raised → cleared → reset) carries the same
 * id, a new occurrence gets a new one. (id, state) is unique.
 */
export const AlarmTransition = z.object({
  id: z.string().min(8).max(96),
  gateway: GatewayId,
  device: DeviceId,
  point: PointId.optional(),
  type: AlarmType,
  severity: AlarmSeverity,
  state: AlarmState,
  value: ReadingValue.optional(),
  /** Gateway clock, ms since the epoch. */
  ts: z.number().int().nonnegative(),
  /** Raised while the device is in walk-test mode: shown, never escalated as real. */
  test: z.boolean().default(false),
  /** Needs an explicit reset after the condition clears (fire, gas high, manhole). */
  latched: z.boolean().default(false),
  message: z.string().max(256).optional(),
  /**
   * Which sources saw the condition: on `raised`, those active when it was raised; on `cleared` and
   * `reset`, every source that saw it during the occurrence. Omitted by gateways older than the
   * field and for the engine's own `chattering` alarm.
   */
  sources: z.array(AlarmSource).min(1).max(AlarmSource.options.length).optional(),
});
export type AlarmTransition = z.infer<typeof AlarmTransition>;
