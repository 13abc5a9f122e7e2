/**
 * Noise control at the moment a notification would go to one recipient (a duty post): send now,
 * or fold it into a later notification that carries several cases (`cases: [...]`).
 *
 * - Fire and gas-high are never folded, limited or held (GB 26875.1-2011 §4.1.2.3: a fire alarm
 *   pre-empts every other transmission); they still count toward the flood figure.
 * - The first notice (预警) of every major or critical case is never held either (GB 26875.1-2011
 *   §4.1.2.1 and §4.1.3.1: alarms and facility status reach the centre within 10 s): it counts
 *   toward the flood figure and the rate, but grouping, the rate limit and flood mode apply to
 *   reminders and minor alarms only. Cases falling due in one worker tick (≤ 2 s, the
 *   group-wait) still travel in one message.
 * - Daily digest: steps marked `delivery: digest` (minor alarms) go out once a day at `digestAt`.
 * - Flood: ≥ 10 new alarms in 10 min for one recipient (ISA-18.2 / EEMUA 191 flood figure,
 *   standards.md) → one summary per site every `flood.batchMs`.
 * - Rate limit: ≤ `rateLimit.max` notifications per `rateLimit.perMs`; the excess is folded into
 *   the one that goes out when the window has room again (thingsboard #15103: an email every 4 s).
 * - Grouping: another reminder or minor alarm of the same community within `groupWindowMs` of a notification is
 *   folded into one sent at the end of that window (leading edge goes at once, like
 *   Alertmanager's group_interval without a group_wait — nobody waits for the first one).
 *
 * The counts live in the store's recipient log, so every instance sees the same figures; two
 * instances deciding at the same instant may each let one through (the limit is soft, the
 * exactly-once guarantee is per plan row, not per limit).
 */

import { DAY, localMidnight, MINUTE, minuteOfDay } from '../../common/time.js';
import { formatSitePath } from '../../protocol/index.js';
import type { AlarmCase } from '../alarms/contract.js';
import type { NoiseConfig } from './config.js';
import type { EscalationStore } from './store/port.js';

export type GateDecision = { send: true } | { send: false; foldKey: string; dueAt: number };

export const FOLD_REASONS: Record<string, { zh: string; en: string }> = {
  digest: { zh: '每日汇总', en: 'daily digest' },
  flood: { zh: '警情洪峰，按站点汇总', en: 'alarm flood: summary by site' },
  rate: { zh: '通知过多，合并发送', en: 'several notifications folded (rate limit)' },
  group: { zh: '同一社区多条警情', en: 'several alarms in one community' },
};

export class NoiseGate {
  constructor(
    private readonly store: EscalationStore,
    private readonly config: NoiseConfig,
  ) {}

  /** Fire and gas-high: never held back. */
  neverHold(c: Pick<AlarmCase, 'severity' | 'type'>): boolean {
    const n = this.config.neverHold;
    return n.severities.includes(c.severity) || n.types.includes(c.type);
  }

  /** The next digest time strictly after `now` (Asia/Shanghai). */
  nextDigest(now: number): number {
    const today = localMidnight(now) + minuteOfDay(this.config.digestAt) * MINUTE;
    return today > now ? today : today + DAY;
  }

  /**
   * Decides for one recipient and one case. `newAlarm`: the first notification of a (re)trigger,
   * counted toward the flood figure.
   */
  async decide(
    recipient: string,
    c: AlarmCase,
    opts: { digest: boolean; newAlarm: boolean },
    now: number,
  ): Promise<GateDecision> {
    const community = formatSitePath(c.site);
    if (opts.newAlarm)
      await this.store.logRecipient([{ recipient, kind: 'arrival', caseId: c.id, community, at: now }]);
    if (this.neverHold(c)) return { send: true };
    // The first notice of a major or critical case is never held (GB 26875.1-2011 §4.1.2.1 /
    // §4.1.3.1: within 10 s); grouping, the rate limit and flood mode shape the rest.
    if (opts.newAlarm && this.config.firstNoticeSeverities.includes(c.severity)) return { send: true };
    if (opts.digest) return { send: false, foldKey: 'digest', dueAt: this.nextDigest(now) };
    const { flood, rateLimit, groupWindowMs } = this.config;
    const log = await this.store.recipientLog(
      recipient,
      now - Math.max(flood.perMs, rateLimit.perMs, groupWindowMs),
    );
    const arrivals = new Set(
      log.filter((e) => e.kind === 'arrival' && e.at > now - flood.perMs).map((e) => e.caseId),
    );
    if (arrivals.size >= flood.alarms)
      return { send: false, foldKey: `flood:${community}`, dueAt: now + flood.batchMs };
    const sends = log.filter((e) => e.kind === 'send');
    const inRate = sends.filter((e) => e.at > now - rateLimit.perMs);
    if (inRate.length >= rateLimit.max)
      return { send: false, foldKey: 'rate', dueAt: (inRate[0]?.at ?? now) + rateLimit.perMs };
    const recent = sends.filter((e) => e.community === community && e.at > now - groupWindowMs);
    const last = recent[recent.length - 1];
    if (last) return { send: false, foldKey: `group:${community}`, dueAt: last.at + groupWindowMs };
    return { send: true };
  }

  async recordSend(recipients: readonly string[], c: AlarmCase, now: number): Promise<void> {
    const community = formatSitePath(c.site);
    await this.store.logRecipient(
      recipients.map((recipient) => ({ recipient, kind: 'send', caseId: c.id, community, at: now })),
    );
  }
}
