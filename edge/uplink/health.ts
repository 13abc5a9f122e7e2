import type { Logger } from '../../common/log.js';
import { GatewayHealthReport } from '../../protocol/index.js';
import { OUTBOX_CLASSES, type Outbox } from '../outbox/types.js';

/**
 * The health report sent with batches: outbox figures (pending per class, drops, quarantine,
 * oldest pending) and the clock offset are the uplink's; the gateway's provider adds the rest
 * (devices, its own uptime/software). An invalid merged report falls back to the uplink's part —
 * a bad health block must never get data batches rejected.
 */
export function buildHealth(input: {
  outbox: Outbox;
  software: string;
  uptimeS: number;
  clockOffsetMs: number | undefined;
  provider: (() => Partial<GatewayHealthReport>) | undefined;
  logger: Logger | undefined;
}): GatewayHealthReport {
  const s = input.outbox.stats();
  const dropped: Record<string, number> = {};
  let oldest: number | undefined;
  for (const cls of OUTBOX_CLASSES) {
    for (const [reason, n] of Object.entries(s.counters.dropped[cls]))
      if (n > 0) dropped[`${cls}.${reason}`] = n;
    const at = s.pending[cls].oldestEnqueuedAt;
    if (at !== undefined && (oldest === undefined || at < oldest)) oldest = at;
  }
  const base: GatewayHealthReport = {
    software: input.software,
    uptimeS: Math.max(0, Math.round(input.uptimeS)),
    outbox: {
      pending: {
        alarm: s.pending.alarm.rows,
        event: s.pending.event.rows,
        telemetry: s.pending.telemetry.rows,
      },
      dropped,
      quarantined: s.quarantined.rows,
      ...(oldest === undefined ? {} : { oldestPendingTs: oldest }),
    },
    ...(input.clockOffsetMs === undefined ? {} : { clockOffsetMs: input.clockOffsetMs }),
  };
  if (!input.provider) return base;
  let extra: Partial<GatewayHealthReport>;
  try {
    extra = input.provider();
  } catch (error) {
    input.logger?.warn({ err: error }, 'health provider failed; sending outbox health only');
    return base;
  }
  const merged = {
    ...base,
    ...extra,
    outbox: base.outbox,
    clockOffsetMs: input.clockOffsetMs ?? extra.clockOffsetMs,
  };
  if (merged.clockOffsetMs === undefined) delete merged.clockOffsetMs;
  const parsed = GatewayHealthReport.safeParse(merged);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  input.logger?.warn(
    { path: issue?.path.join('.'), issue: issue?.message },
    'health report invalid; sending outbox health only',
  );
  return base;
}
