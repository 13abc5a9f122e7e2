/**
 * The tier feed's `case` messages: a reader of the case-event log (cursor `feed`, durable and
 * leased like escalation's, cloud/alarms/log-reader.ts) that publishes every change of a case —
 * stage (预警 提醒 督办 反馈 办结) and state — to the town and district subscribers. At least once:
 * after a crash the entries since the cursor's last advance are published again (`seq` lets a
 * subscriber drop what it has seen). The PUB socket itself may still drop at its high-water mark
 * (publisher.ts counts it); the log is the record.
 */
import type { Logger } from '../../common/log.js';
import { isaState } from '../alarms/contract.js';
import { CaseLogReader, type CaseLogSource } from '../alarms/log-reader.js';
import type { CaseLogEntry } from '../alarms/store/port.js';
import type { FeedSink } from '../feed-sink.js';

/** The `case` feed message of one log entry. */
export function caseFeedMessage(entry: CaseLogEntry, ts: number) {
  const c = entry.case;
  return {
    v: 1 as const,
    kind: 'case' as const,
    site: c.site,
    gateway: c.gateway,
    ts,
    data: {
      seq: entry.seq,
      event: entry.kind,
      id: c.id,
      stage: c.stage,
      state: isaState(c.condition, c.acked),
      type: c.type,
      severity: c.severity,
      device: c.device,
      ...(c.location ? { location: c.location } : {}),
      test: c.test,
      at: entry.at,
      ...(entry.by ? { by: entry.by.name } : {}),
    },
  };
}

export interface CaseFeedOptions {
  source: CaseLogSource;
  feed: FeedSink;
  holder: string;
  clock: () => number;
  log?: Logger;
}

/** Starts publishing; returns the reader (wake() on local commits, stop() on shutdown). */
export function startCaseFeed(o: CaseFeedOptions): CaseLogReader {
  const reader = new CaseLogReader({
    consumer: 'feed',
    holder: o.holder,
    source: o.source,
    clock: o.clock,
    // A feed is a live view: a new cursor starts at the end of the log, not with its history.
    startAtEnd: true,
    handle: async (entry) => {
      // publish() validates and enqueues; an invalid message is a bug here, not a reason to stall.
      try {
        o.feed.publish(caseFeedMessage(entry, o.clock()));
      } catch (error) {
        o.log?.warn({ err: error, seq: entry.seq }, 'case feed publish failed');
      }
    },
    ...(o.log ? { log: o.log } : {}),
  });
  reader.start();
  return reader;
}
