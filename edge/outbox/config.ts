import { z } from 'zod';
import { DoorstepError } from '../../protocol/index.js';

const MiB = 1024 * 1024;
const DAY = 24 * 60 * 60 * 1000;

interface ClassDefaults {
  priority: number;
  maxRows: number;
  maxBytes: number;
  ttlMs: number | null;
}

/** Every field has a default, so a site overrides only what it needs (`telemetry: {maxRows: 5000}`). */
function classLimits(defaults: ClassDefaults) {
  return z.object({
    /** Lower sorts first in a batch. The alarm class must have the lowest number. */
    priority: z.number().int().default(defaults.priority),
    maxRows: z.number().int().positive().default(defaults.maxRows),
    /** Payload bytes (UTF-8 JSON), not file size; the file adds roughly 40 bytes a row of overhead. */
    maxBytes: z.number().int().positive().default(defaults.maxBytes),
    /** Age (from put, on the outbox clock) after which a pending row expires; null = never. */
    ttlMs: z.number().int().positive().nullable().default(defaults.ttlMs),
  });
}

/**
 * Defaults sized for a gateway with a few GB of eMMC: a Reading is ~110 bytes of JSON, so a full
 * telemetry class is ~110 MB of payload, about a week of 100 points at one reading a minute each.
 * Alarms never expire: nothing but the cloud's ack removes them (invariant 5).
 */
export const OutboxConfigSchema = z
  .object({
    classes: z
      .object({
        alarm: classLimits({ priority: 0, maxRows: 100_000, maxBytes: 64 * MiB, ttlMs: null })
          .extend({ ttlMs: z.null().default(null) })
          .prefault({}),
        event: classLimits({ priority: 1, maxRows: 100_000, maxBytes: 64 * MiB, ttlMs: 30 * DAY }).prefault(
          {},
        ),
        telemetry: classLimits({ priority: 2, maxRows: 1_000_000, maxBytes: 256 * MiB, ttlMs: 7 * DAY })
          .extend({
            /**
             * When telemetry is over its cap, thin the oldest rows per (device, point) series keeping
             * every Nth instead of deleting a contiguous block; 1 disables thinning.
             */
            downsampleEvery: z.number().int().min(1).default(2),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Pending rows over all classes: "the store is full". */
    store: z
      .object({
        maxRows: z.number().int().positive().default(1_200_000),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(384 * MiB),
      })
      .prefault({}),
    /** Quarantine has its own cap so a flood of rejected rows cannot fill the disk; alarms are kept beyond it. */
    quarantine: z
      .object({
        maxRows: z.number().int().positive().default(10_000),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(16 * MiB),
      })
      .prefault({}),
    /**
     * Eviction frees this fraction of a cap at once (evict to cap × (1 − slack)) so a full store
     * does not evict on every put, and thinning has a window wide enough to keep every Nth row.
     */
    evictionSlack: z.number().min(0).max(0.5).default(0.05),
    maxEntryBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
    /**
     * Bytes of a reserve file kept beside the store (real blocks, fsynced). When a write fails
     * because the file system is full, the reserve is deleted so alarms and rule state still have
     * room, and telemetry stops growing the store; it is written again once twice this much is
     * free. 0 disables it. A transaction of one alarm needs a few pages (≈ 20 KiB with its WAL
     * frames), so the default holds hundreds of alarms.
     */
    reserveBytes: z
      .number()
      .int()
      .min(0)
      .default(4 * MiB),
    /** 'full': every commit is fsynced; 'alarms': only commits holding an alarm (others survive kill -9, not power loss). */
    syncMode: z.enum(['full', 'alarms']).default('full'),
    maintenanceIntervalMs: z.number().int().positive().default(60_000),
  })
  .strict()
  .superRefine((config, ctx) => {
    const { alarm, event, telemetry } = config.classes;
    if (alarm.priority >= event.priority || alarm.priority >= telemetry.priority) {
      ctx.addIssue({
        code: 'custom',
        path: ['classes', 'alarm', 'priority'],
        message: 'alarms must have the lowest priority number (GB 26875.1-2011 §4.1.2.3)',
      });
    }
  });

export type OutboxConfigInput = z.input<typeof OutboxConfigSchema>;
export type OutboxConfig = z.output<typeof OutboxConfigSchema>;

/** Validates and fills defaults; reports every problem with its path (CFG_ERR_INVALID), then freezes. */
export function resolveOutboxConfig(input: OutboxConfigInput = {}): Readonly<OutboxConfig> {
  const parsed = OutboxConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `outbox.${issue.path.join('.')}: ${issue.message}`);
    throw new DoorstepError('CFG_ERR_INVALID', { count: problems.length, summary: problems.join('; ') });
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
