/**
 * Rules as data: the zod schema of one alarm rule. Default packs (packs.ts), site overrides and
 * device overrides (resolve.ts) all produce values of this shape; the engine runs nothing else.
 */
import { z } from 'zod';
import { AlarmSeverity, AlarmType } from '../../protocol/alarm.js';
import { GeomagneticUse, ReadingValue, SensorKind } from '../../protocol/reading.js';
import { DeviceId, PointId } from '../../protocol/site.js';
import { HolidayDate, ScheduleWindow } from './schedule.js';

const Threshold = {
  point: PointId,
  threshold: z.number().finite(),
  /** Must come back past the threshold by this much to clear (ISA-18.2 deadband). */
  deadband: z.number().finite().nonnegative().default(0),
  /** `true`: the threshold itself counts as crossed (≥ / ≤); `false`: strictly > / <. */
  inclusive: z.boolean().default(false),
};
const StaleAfterMs = z.number().int().positive();

/** One condition on one point; a rule is active while any of its conditions is. */
export const Condition = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('above'), ...Threshold }),
  z.object({ kind: z.literal('below'), ...Threshold }),
  z.object({ kind: z.literal('equals'), point: PointId, value: ReadingValue }),
  z.object({ kind: z.literal('isTrue'), point: PointId }),
  z.object({ kind: z.literal('isFalse'), point: PointId }),
  /** No reading of `point` (of any point when omitted) for `staleAfterMs`. */
  z.object({ kind: z.literal('stale'), point: PointId.optional(), staleAfterMs: StaleAfterMs }),
  /** `point` has kept the same value for `staleAfterMs` (a heartbeat that stopped toggling or
   * stopped arriving). Armed by the first reading, so devices without the point never alarm. */
  z.object({ kind: z.literal('unchanged'), point: PointId, staleAfterMs: StaleAfterMs }),
  /** The bus scheduler reports the device's link as offline (DeviceLinkState). */
  z.object({ kind: z.literal('linkOffline') }),
  /**
   * `point` changes faster than `above` units/s (or falls faster than `below`, a negative figure)
   * over the last `windowMs`: a leak building up, a burst pipe. At least one of the two.
   */
  z.object({
    kind: z.literal('rateOfChange'),
    point: PointId,
    windowMs: z.number().int().positive().max(86_400_000),
    above: z.number().finite().optional(),
    below: z.number().finite().optional(),
  }),
  /**
   * At least `n` of the last `m` samples of `point` (and/or within `withinMs`) are in alarm: above
   * `above`, below `below`, or true when neither is given. Give `m`, `withinMs` or both.
   */
  z.object({
    kind: z.literal('nOfM'),
    point: PointId,
    n: z.number().int().min(1).max(1000),
    m: z.number().int().min(1).max(1000).optional(),
    withinMs: z.number().int().positive().max(86_400_000).optional(),
    above: z.number().finite().optional(),
    below: z.number().finite().optional(),
  }),
]);
export type Condition = z.infer<typeof Condition>;
export type ConditionInput = z.input<typeof Condition>;

/**
 * A second, independent source that must also be in alarm (GB 50116-2013 §4.1.6): the same
 * `point` on one of `devices` (default: the other devices of the same kind in the device's zone),
 * with both rising edges within `withinMs` of each other.
 */
export const ConfirmWith = z.object({
  point: PointId,
  withinMs: z.number().int().positive(),
  devices: z.array(DeviceId).optional(),
});
export type ConfirmWith = z.infer<typeof ConfirmWith>;

export const RuleSpec = z
  .object({
    /** Alarm type slug; one rule per (device, type). */
    type: AlarmType,
    severity: AlarmSeverity,
    /** Device kind the rule belongs to (`any` for diagnostics shared by every kind). */
    kind: z.union([SensorKind, z.literal('any')]),
    /** Geomagnetic sensors only: which use the rule is for. */
    use: GeomagneticUse.optional(),
    /** Active while any condition is active. */
    when: z.array(Condition).min(1),
    /** The condition must hold this long before the alarm is raised (ISA-18.2 on-delay). */
    onDelayMs: z.number().int().nonnegative().default(0),
    /** The condition must be gone this long before the alarm clears (ISA-18.2 off-delay). */
    offDelayMs: z.number().int().nonnegative().default(0),
    /** After clearing, the alarm stays latched until `reset` (fire, gas high, manhole). */
    latched: z.boolean().default(false),
    /** Active only inside these windows (Asia/Shanghai); omitted or empty: always. */
    schedule: z.array(ScheduleWindow).optional(),
    /** Local dates (YYYY-MM-DD) on which no schedule window opens: public holidays. */
    holidays: z.array(HolidayDate).max(400).optional(),
    confirmWith: ConfirmWith.optional(),
    /** Legal range of the first threshold, e.g. GB 15322.1's 1–25 %LEL for a gas low set point. */
    thresholdRange: z.tuple([z.number(), z.number()]).optional(),
    enabled: z.boolean().default(true),
    message: z.string().max(256).optional(),
    /** Where the figures come from (standard clause, practice, our proposal). */
    source: z.string().max(256).optional(),
  })
  .superRefine((rule, context) => {
    const first = rule.when.find((condition) => condition.kind === 'above' || condition.kind === 'below');
    if (rule.thresholdRange !== undefined && first !== undefined) {
      const [low, high] = rule.thresholdRange;
      const index = rule.when.indexOf(first);
      if (first.threshold < low || first.threshold > high) {
        context.addIssue({
          code: 'custom',
          path: ['when', index, 'threshold'],
          message: `threshold ${first.threshold} is outside the legal range ${low}–${high}${
            rule.source ? ` (${rule.source})` : ''
          }`,
        });
      }
    }
    rule.when.forEach((condition, index) => {
      if (condition.kind === 'rateOfChange' && condition.above === undefined && condition.below === undefined)
        context.addIssue({
          code: 'custom',
          path: ['when', index],
          message: 'rateOfChange needs above, below or both',
        });
      if (condition.kind === 'nOfM') {
        if (condition.m === undefined && condition.withinMs === undefined)
          context.addIssue({
            code: 'custom',
            path: ['when', index],
            message: 'nOfM needs m, withinMs or both',
          });
        if (condition.m !== undefined && condition.n > condition.m)
          context.addIssue({
            code: 'custom',
            path: ['when', index, 'n'],
            message: `n ${condition.n} is more than m ${condition.m}: the condition could never hold`,
          });
      }
    });
    if (rule.holidays !== undefined && (rule.schedule === undefined || rule.schedule.length === 0))
      context.addIssue({ code: 'custom', path: ['holidays'], message: 'holidays apply to a schedule only' });
    if (rule.kind === 'any' && rule.use !== undefined) {
      context.addIssue({ code: 'custom', path: ['use'], message: 'use applies to geomagnetic rules only' });
    }
  });
export type RuleSpec = z.infer<typeof RuleSpec>;
export type RuleSpecInput = z.input<typeof RuleSpec>;

/**
 * A site or device override of one rule, by alarm type: any field of the rule; `threshold` and
 * `deadband` change the first above/below condition without restating it; `enabled: false`
 * switches the rule off. A type that is not in the pack must be a complete rule.
 */
export const RuleOverride = z
  .object({
    severity: AlarmSeverity.optional(),
    when: z.array(Condition).min(1).optional(),
    threshold: z.number().finite().optional(),
    deadband: z.number().finite().nonnegative().optional(),
    onDelayMs: z.number().int().nonnegative().optional(),
    offDelayMs: z.number().int().nonnegative().optional(),
    latched: z.boolean().optional(),
    schedule: z.array(ScheduleWindow).optional(),
    holidays: z.array(HolidayDate).max(400).optional(),
    confirmWith: ConfirmWith.optional(),
    enabled: z.boolean().optional(),
    message: z.string().max(256).optional(),
    kind: z.union([SensorKind, z.literal('any')]).optional(),
    use: GeomagneticUse.optional(),
    source: z.string().max(256).optional(),
  })
  .strict();
export type RuleOverride = z.infer<typeof RuleOverride>;

/** Overrides keyed by alarm type, for the whole site or for one device. */
export const RuleOverrides = z.record(AlarmType, RuleOverride);
export type RuleOverrides = z.infer<typeof RuleOverrides>;
