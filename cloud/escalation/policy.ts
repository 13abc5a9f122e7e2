/**
 * Escalation policies as data, versioned. A case is matched to a policy when it is raised and keeps
 * that policy's (id, version) to the end, even after the configuration changes (GitLab escalation
 * policies: "an alert keeps the policy version it started with"; each step fires once; a
 * re-triggered alert restarts the policy). Step conditions follow Opsgenie (`not_acked` /
 * `not_closed` — the second is 督办), ack timeout follows PagerDuty (acked but unresolved → notify
 * again, their default 1800 s), re-alarm follows ISA-18.2 (still active after T → 提醒 again), and
 * delivery-failure fallback follows EdgeX (after 2 failed sends → the ESCALATION subscriber).
 */
import { z } from 'zod';
import { DAY, HHMM_PATTERN, HOUR, MINUTE } from '../../common/time.js';
import { SensorKind } from '../../protocol/index.js';
import type { AlarmCase } from '../alarms/contract.js';

const HHMM = z.string().regex(HHMM_PATTERN, 'must be HH:MM (Asia/Shanghai)');
const Ms = z.number().int().nonnegative();

export const Tier = z.enum(['community', 'town', 'district']);
export type Tier = z.infer<typeof Tier>;

export const Target = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('person'), id: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('role'), role: z.string().min(1), tier: Tier }).strict(),
  z.object({ kind: z.literal('oncall'), schedule: z.string().min(1) }).strict(),
]);
export type Target = z.infer<typeof Target>;

export const Window = z
  .object({
    from: HHMM,
    to: HHMM,
    /** ISO weekdays, Monday 1 … Sunday 7; all days when absent. */
    days: z.array(z.number().int().min(1).max(7)).min(1).optional(),
    /** Outside the window: skip the step (Grafana OnCall's time condition) or wait for it to open. */
    outside: z.enum(['skip', 'defer']).default('skip'),
  })
  .strict();

export const Step = z
  .object({
    /**
     * From the (re)trigger of the case, not from the previous step; for an `idle` step, from the
     * last activity on the case (cloud/alarms/model.ts idleSince).
     */
    delayMs: Ms,
    /**
     * `idle`: fires only after `delayMs` without activity on the case — no acknowledgement,
     * feedback or reset request; re-occurrences and restarts do not count (the red light 红灯).
     */
    condition: z.enum(['always', 'not_acked', 'not_closed', 'idle']),
    targets: z.array(Target).min(1),
    window: Window.optional(),
    repeat: z
      .object({ times: z.number().int().min(1).max(50), everyMs: z.number().int().positive() })
      .strict()
      .optional(),
    stage: z.enum(['warn', 'remind', 'supervise']),
    /** `digest`: folded into the recipient's daily digest (noise control) instead of sent at once. */
    delivery: z.enum(['immediate', 'digest']).default('immediate'),
    /** Why now, for the message; a default is derived from condition and delay. */
    reason: z
      .object({ zh: z.string().min(1), en: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();
export type Step = z.infer<typeof Step>;

export const Policy = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a lower-case slug'),
    version: z.number().int().positive(),
    /** Policies are tried in order; the first whose match accepts the case wins. */
    match: z
      .object({
        severities: z
          .array(z.enum(['critical', 'major', 'minor', 'info']))
          .min(1)
          .optional(),
        types: z.array(z.string().min(1)).min(1).optional(),
        /** The device's sensor kind in the registry (`smoke`, `gas` …); a case of an unknown device never matches. */
        deviceKinds: z.array(SensorKind).min(1).optional(),
      })
      .strict(),
    steps: z.array(Step).min(1),
    ackTimeoutMs: z.number().int().positive().optional(),
    realarmMs: z.number().int().positive().optional(),
    deliveryFailure: z
      .object({ afterFailedSends: z.number().int().positive(), fallback: z.array(Target).min(1) })
      .strict(),
  })
  .strict();
export type Policy = z.infer<typeof Policy>;
export type PolicyInput = z.input<typeof Policy>;

export function policyMatches(
  policy: Policy,
  c: Pick<AlarmCase, 'severity' | 'type'>,
  deviceKind?: string,
): boolean {
  const { severities, types, deviceKinds } = policy.match;
  return (
    (!severities || severities.includes(c.severity)) &&
    (!types || types.includes(c.type)) &&
    (!deviceKinds || (deviceKind !== undefined && deviceKinds.includes(deviceKind as SensorKind)))
  );
}

const role = (r: string, tier: Tier): Target => ({ kind: 'role', role: r, tier });

/**
 * The roles the default policies name, in words for people (the on-duty list, the console).
 * Roles are free words in `escalation.people`; one not listed here shows as written.
 */
export const ROLE_LABELS: Record<string, { zh: string; en: string }> = {
  duty: { zh: '值班员', en: 'Duty officer' },
  lead: { zh: '分管领导', en: 'Lead' },
  supervisor: { zh: '督办员', en: 'Supervisor' },
  maintenance: { zh: '维保人员', en: 'Maintenance' },
  village_head: { zh: '村居书记', en: 'Village head' },
};

/** The red light's wait: 7 days without activity (浦东i党建, docs/standards.md). */
export const RED_LIGHT_MS = 7 * DAY;

/**
 * The red light (红灯) as the Pudong 浦东i党建 practice uses it (docs/standards.md "Red light"): a
 * case with no acknowledgement, feedback or progress for 7 days goes to the town lead and to the
 * village head (村居书记) of its community, and to 督办. Its clock is the case's last activity, so a
 * condition that keeps occurring again — the same case — does not restart it.
 */
const redLight = (): PolicyInput['steps'][number] => ({
  delayMs: RED_LIGHT_MS,
  condition: 'idle',
  stage: 'supervise',
  targets: [role('lead', 'town'), role('village_head', 'community')],
  reason: {
    zh: '红灯：7天无人处置（未确认、未反馈、无进展）',
    en: 'red light: 7 days without acknowledgement, feedback or progress',
  },
});

/**
 * The shipped defaults (override any by id in `escalation.policies`). Figures: critical 3 min /
 * 30 min, major 10 min / 4 h, minor daily digest / 7-day red light are the district's operating
 * brief for this project; the 1800 s ack timeout is PagerDuty's default; 2 failed sends before the
 * fallback is EdgeX's escalation rule (standards.md "Escalation models to learn from"). The
 * 10-minute re-alarm for critical alarms is our proposal (confidence L) — override per site.
 */
export const DEFAULT_POLICIES: readonly PolicyInput[] = [
  {
    // Chattering points (ISA-18.2: ≥ 3 activations in 1 min, flagged by the edge) are a sensor
    // problem: maintenance, never duty staff. First in order so it wins over the severity match.
    id: 'chattering',
    version: 1,
    match: { types: ['chattering'] },
    steps: [{ delayMs: 0, condition: 'always', stage: 'warn', targets: [role('maintenance', 'town')] }],
    deliveryFailure: { afterFailedSends: 2, fallback: [role('duty', 'town')] },
  },
  {
    // Fire and gas-high: both tiers at once (GB 26875.1 §4.1.2.3: fire pre-empts everything).
    id: 'critical',
    // 2: the red light (7 days idle) added.
    version: 2,
    match: { severities: ['critical'] },
    steps: [
      {
        delayMs: 0,
        condition: 'always',
        stage: 'warn',
        targets: [role('duty', 'community'), role('duty', 'town')],
      },
      { delayMs: 3 * MINUTE, condition: 'not_acked', stage: 'remind', targets: [role('lead', 'town')] },
      {
        delayMs: 30 * MINUTE,
        condition: 'not_closed',
        stage: 'supervise',
        targets: [role('supervisor', 'district')],
      },
      redLight(),
    ],
    ackTimeoutMs: 30 * MINUTE,
    realarmMs: 10 * MINUTE,
    deliveryFailure: { afterFailedSends: 2, fallback: [role('lead', 'town'), role('duty', 'district')] },
  },
  {
    // Fire door, fire lane, water pressure, gas low, manhole.
    id: 'major',
    // 2: the red light (7 days idle) added.
    version: 2,
    match: { severities: ['major'] },
    steps: [
      { delayMs: 0, condition: 'always', stage: 'warn', targets: [role('duty', 'community')] },
      { delayMs: 10 * MINUTE, condition: 'not_acked', stage: 'remind', targets: [role('duty', 'town')] },
      {
        delayMs: 4 * HOUR,
        condition: 'not_closed',
        stage: 'supervise',
        targets: [role('supervisor', 'district')],
      },
      redLight(),
    ],
    ackTimeoutMs: 2 * HOUR,
    deliveryFailure: { afterFailedSends: 2, fallback: [role('duty', 'town')] },
  },
  {
    // A life-safety detector (smoke, gas) that went offline or lost its heartbeat leaves its
    // homes unwatched: its community is told at once — within 15 min even when noise control
    // folds it (the rate window is 10 min, a flood batch 5 min) — not in tomorrow's digest. The
    // edge signals it after its on-delay (GB 26875.1 network fault ≤ 100 s); the 15 min is the
    // district's operating brief for this project, like the figures above.
    id: 'life-safety-offline',
    // 2: the red light counts 7 days without activity (was: not closed) and tells the village head too.
    version: 2,
    match: { types: ['device_offline', 'heartbeat_lost'], deviceKinds: ['smoke', 'gas'] },
    steps: [
      { delayMs: 0, condition: 'always', stage: 'warn', targets: [role('duty', 'community')] },
      redLight(),
    ],
    deliveryFailure: { afterFailedSends: 2, fallback: [role('duty', 'town')] },
  },
  {
    // Device fault, offline, low battery, heartbeat lost, tamper: the maintenance contact in the
    // daily digest; the red light (红灯) after 7 days without activity.
    id: 'minor',
    // 2: the red light counts 7 days without activity (was: not closed) and tells the village head too.
    version: 2,
    match: { severities: ['minor'] },
    steps: [
      {
        delayMs: 0,
        condition: 'always',
        stage: 'warn',
        delivery: 'digest',
        targets: [role('maintenance', 'town')],
      },
      redLight(),
    ],
    deliveryFailure: { afterFailedSends: 2, fallback: [role('duty', 'town')] },
  },
];

/** The message's "why now" for a step (a policy may set its own). */
export function stepReason(step: Step): { zh: string; en: string } {
  if (step.reason) return step.reason;
  const { zh, en } = duration(step.delayMs);
  if (step.condition === 'not_acked') return { zh: `未在${zh}内确认`, en: `not acknowledged within ${en}` };
  if (step.condition === 'not_closed') return { zh: `未在${zh}内办结`, en: `not closed within ${en}` };
  if (step.condition === 'idle') return { zh: `${zh}无人处置`, en: `no activity for ${en}` };
  return { zh: '新警情', en: 'new alarm' };
}

export function duration(ms: number): { zh: string; en: string } {
  if (ms % DAY === 0 && ms >= DAY) return { zh: `${ms / DAY}天`, en: `${ms / DAY} d` };
  if (ms % HOUR === 0 && ms >= HOUR) return { zh: `${ms / HOUR}小时`, en: `${ms / HOUR} h` };
  if (ms % MINUTE === 0 && ms >= MINUTE) return { zh: `${ms / MINUTE}分钟`, en: `${ms / MINUTE} min` };
  return { zh: `${Math.round(ms / 1000)}秒`, en: `${Math.round(ms / 1000)} s` };
}

/**
 * The policies in force, in match order: configured policies with new ids first (they are the
 * specific ones), then the defaults in their order, each replaced in place by a configured policy
 * of the same id. Matching uses this list; firing uses the stored version a case started with.
 */
export function effectivePolicies(configured: readonly Policy[]): Policy[] {
  const byId = new Map(configured.map((p) => [p.id, p]));
  const defaultIds = new Set(DEFAULT_POLICIES.map((p) => p.id));
  const added = configured.filter((p) => !defaultIds.has(p.id));
  const defaults = DEFAULT_POLICIES.map((p) => byId.get(p.id) ?? Policy.parse(p));
  return [...added, ...defaults];
}

export function matchPolicy(
  policies: readonly Policy[],
  c: Pick<AlarmCase, 'severity' | 'type'>,
  deviceKind?: string,
) {
  return policies.find((p) => policyMatches(p, c, deviceKind));
}
