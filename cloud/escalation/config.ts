/**
 * The `escalation` section of the cloud configuration: the people directory, on-call schedules,
 * policies (overriding the defaults by id) and noise-control settings. Validated up front with
 * every problem reported with its path (`escalation.schedules[0].layers[1].rotation.members[2]`),
 * including references between entries, then frozen (docs/architecture.md: "validate everything up front").
 */
import { z } from 'zod';
import { HHMM_PATTERN, parseLocal } from '../../common/time.js';
import { ScopePath, Slug } from '../../protocol/index.js';
import { CLAIM_LEASE_MS } from '../alarms/contract.js';
import { PhoneNumber } from '../notify/phone.js';
import { Policy, type Target } from './policy.js';

const HHMM = z.string().regex(HHMM_PATTERN, 'must be HH:MM (Asia/Shanghai)');
const LocalDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD (Asia/Shanghai)')
  .refine((s) => Number.isFinite(parseLocal(s)), 'not a date');
const LocalDateTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/, 'must be YYYY-MM-DDTHH:MM (Asia/Shanghai)')
  .refine((s) => Number.isFinite(parseLocal(s)), 'not a date-time');

const Severity = z.enum(['critical', 'major', 'minor', 'info']);

/** Which notifications a phone address is used for; absent lists allow all (`AddressWhen`). */
export const AddressWhenSchema = z
  .object({
    severities: z.array(Severity).min(1).optional(),
    stages: z
      .array(z.enum(['warn', 'remind', 'supervise']))
      .min(1)
      .optional(),
  })
  .strict();

/**
 * A voice call wakes someone for a critical case nobody acknowledged in time (提醒) or nobody
 * closed (督办), not for every first notice: the default of a `voice` address.
 */
export const VOICE_WHEN = { severities: ['critical'], stages: ['remind', 'supervise'] } as const;

/**
 * Mirrors `ChannelAddress` in cloud/alarms/contract.ts. A phone address without `phone` uses the
 * person's `phone` (filled in by the roster).
 */
export const ChannelAddressSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('webhook'), url: z.url(), secret: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('wecom'), webhookUrl: z.url() }).strict(),
  z.object({ kind: z.literal('dingtalk'), webhookUrl: z.url(), secret: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('email'), address: z.email() }).strict(),
  z
    .object({ kind: z.literal('sms'), phone: PhoneNumber.optional(), when: AddressWhenSchema.optional() })
    .strict(),
  z
    .object({
      kind: z.literal('voice'),
      phone: PhoneNumber.optional(),
      when: AddressWhenSchema.default({
        severities: [...VOICE_WHEN.severities],
        stages: [...VOICE_WHEN.stages],
      }),
    })
    .strict(),
  z
    .object({ kind: z.literal('smpp'), phone: PhoneNumber.optional(), when: AddressWhenSchema.optional() })
    .strict(),
]);
export type ChannelAddressEntry = z.infer<typeof ChannelAddressSchema>;

const PHONE_KINDS = new Set(['sms', 'voice', 'smpp']);

export const PersonEntry = z
  .object({
    id: Slug,
    name: z.string().min(1).max(120),
    lang: z.enum(['zh', 'en']).default('zh'),
    /** Where the person works: the district, a town or a community. */
    site: ScopePath,
    /** duty, lead, supervisor, maintenance … (free words; policies name them). */
    roles: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'must be a snake_case role')).min(1),
    /**
     * Mobile number: E.164 or mainland 11 digits, stored as E.164. Robots @ the person by it;
     * `sms`, `voice` and `smpp` addresses without their own number use it.
     */
    phone: PhoneNumber.optional(),
    channels: z.array(ChannelAddressSchema).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    p.channels.forEach((a, i) => {
      if (PHONE_KINDS.has(a.kind) && !('phone' in a && a.phone) && !p.phone)
        ctx.addIssue({
          code: 'custom',
          path: ['channels', i, 'phone'],
          message: `a ${a.kind} address needs a phone number: give the person a phone or the address one`,
        });
    });
  });
export type PersonEntry = z.infer<typeof PersonEntry>;

export const Layer = z
  .object({
    name: Slug,
    /** on_site: staffed at the station; on_call: reachable by phone (a village station at night). */
    mode: z.enum(['on_site', 'on_call']).default('on_site'),
    /** Daily hours this layer covers (to ≤ from runs past midnight); absent: 24 h. */
    hours: z
      .object({ from: HHMM, to: HHMM, days: z.array(z.number().int().min(1).max(7)).min(1).optional() })
      .strict()
      .optional(),
    rotation: z
      .object({
        members: z.array(Slug).min(1),
        /** The local date of the first handoff; member 0 starts then. */
        start: LocalDate,
        handoff: HHMM.default('08:00'),
        /** Shift length: 1 = daily, 7 = weekly, 0.5 = twelve hours. */
        lengthDays: z.number().positive().max(366),
      })
      .strict(),
  })
  .strict();
export type Layer = z.infer<typeof Layer>;

export const Override = z
  .object({
    person: Slug,
    from: LocalDateTime,
    to: LocalDateTime,
    /** Replaces this layer only; absent: every layer of the schedule. Always wins, hours included. */
    layer: Slug.optional(),
  })
  .strict()
  .refine((o) => parseLocal(o.to) > parseLocal(o.from), {
    message: 'must end after it starts',
    path: ['to'],
  });

export const Schedule = z
  .object({
    id: Slug,
    site: ScopePath,
    role: z.string().min(1).default('duty'),
    layers: z.array(Layer).min(1),
    overrides: z.array(Override).default([]),
  })
  .strict();
export type Schedule = z.infer<typeof Schedule>;

export const NoiseConfig = z
  .object({
    /**
     * Reminders and minor alarms of one community within this window of a notification go out as
     * one notification at its end (first notices of major/critical cases are never held).
     */
    groupWindowMs: z.number().int().nonnegative().default(60_000),
    /** Per recipient; the excess is folded into the next notification. */
    rateLimit: z
      .object({
        max: z.number().int().positive().default(6),
        perMs: z.number().int().positive().default(600_000),
      })
      .strict()
      .default({ max: 6, perMs: 600_000 }),
    /** ISA-18.2 / EEMUA 191: ≥ 10 new alarms in 10 min per duty post is a flood. */
    flood: z
      .object({
        alarms: z.number().int().positive().default(10),
        perMs: z.number().int().positive().default(600_000),
        /** In a flood, non-critical alarms go out as one summary per site this often. */
        batchMs: z.number().int().positive().default(300_000),
      })
      .strict()
      .default({ alarms: 10, perMs: 600_000, batchMs: 300_000 }),
    digestAt: HHMM.default('08:30'),
    /**
     * The first notice (预警) of a case of these severities is never grouped into a later message,
     * rate-limited or folded into a flood summary: it leaves with the next worker tick. Fire
     * alarms within 10 s (GB 26875.1-2011 §4.1.2.1), facility status and faults — gas low, water
     * pressure, fire doors, fire lanes — within 10 s too (§4.1.3.1). Limits shape reminders and
     * minor alarms only.
     */
    firstNoticeSeverities: z
      .array(z.enum(['critical', 'major', 'minor', 'info']))
      .default(['critical', 'major']),
    /** Never folded, limited or held back: fire and gas-high (GB 26875.1 §4.1.2.3). */
    neverHold: z
      .object({
        severities: z.array(z.enum(['critical', 'major', 'minor', 'info'])).default(['critical']),
        types: z.array(z.string()).default(['smoke', 'fire_confirmed', 'gas_high']),
      })
      .strict()
      .default({ severities: ['critical'], types: ['smoke', 'fire_confirmed', 'gas_high'] }),
  })
  .strict();
export type NoiseConfig = z.infer<typeof NoiseConfig>;

export const EscalationConfig = z
  .object({
    people: z.array(PersonEntry).max(100_000).default([]),
    schedules: z.array(Schedule).default([]),
    policies: z.array(Policy).default([]),
    noise: NoiseConfig.default(NoiseConfig.parse({})),
    worker: z
      .object({
        /**
         * Rows falling due within one tick travel together (the group-wait), so a tick is at most
         * 2 s: the first notice of a major or critical case leaves within 2 s of ingest
         * (GB 26875.1-2011 §4.1.2.1 / §4.1.3.1: alarms and status reach the centre within 10 s).
         */
        tickMs: z.number().int().positive().max(2_000).default(500),
        /**
         * A claim not renewed for this long is taken over (its claimer died); live claimers renew
         * every third of it. The notifier uses the same lease (CLAIM_LEASE_MS).
         */
        leaseMs: z.number().int().min(1_000).max(60_000).default(CLAIM_LEASE_MS),
      })
      .strict()
      .default({ tickMs: 500, leaseMs: CLAIM_LEASE_MS }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const dup = (items: { id: string }[], key: string) => {
      const seen = new Set<string>();
      items.forEach((it, i) => {
        if (seen.has(it.id))
          ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `"${it.id}" listed twice` });
        seen.add(it.id);
      });
    };
    dup(c.people, 'people');
    dup(c.schedules, 'schedules');
    dup(c.policies, 'policies');
    const people = new Set(c.people.map((p) => p.id));
    const schedules = new Set(c.schedules.map((s) => s.id));
    const unknownPerson = (path: (string | number)[], id: string) =>
      ctx.addIssue({ code: 'custom', path, message: `no person "${id}" in escalation.people` });
    c.schedules.forEach((s, i) => {
      const layers = new Set(s.layers.map((l) => l.name));
      s.layers.forEach((l, j) => {
        l.rotation.members.forEach((m, k) => {
          if (!people.has(m)) unknownPerson(['schedules', i, 'layers', j, 'rotation', 'members', k], m);
        });
      });
      s.overrides.forEach((o, j) => {
        if (!people.has(o.person)) unknownPerson(['schedules', i, 'overrides', j, 'person'], o.person);
        if (o.layer && !layers.has(o.layer))
          ctx.addIssue({
            code: 'custom',
            path: ['schedules', i, 'overrides', j, 'layer'],
            message: `no layer "${o.layer}" in schedule "${s.id}"`,
          });
      });
    });
    const checkTargets = (targets: Target[], path: (string | number)[]) =>
      targets.forEach((t, k) => {
        if (t.kind === 'person' && !people.has(t.id)) unknownPerson([...path, k, 'id'], t.id);
        if (t.kind === 'oncall' && !schedules.has(t.schedule))
          ctx.addIssue({
            code: 'custom',
            path: [...path, k, 'schedule'],
            message: `no schedule "${t.schedule}" in escalation.schedules`,
          });
      });
    c.policies.forEach((p, i) => {
      p.steps.forEach((s, j) => {
        checkTargets(s.targets, ['policies', i, 'steps', j, 'targets']);
      });
      checkTargets(p.deliveryFailure.fallback, ['policies', i, 'deliveryFailure', 'fallback']);
    });
  });
export type EscalationConfig = z.infer<typeof EscalationConfig>;
export type EscalationConfigInput = z.input<typeof EscalationConfig>;
