/**
 * The seams between the three parts of the alarm closed loop in the cloud:
 *
 *   ingest ─▶ lifecycle (cloud/alarms) ──case-event log──▶ escalation (cloud/escalation)
 *                 ▲                                        │ who to tell, when (policies, rosters)
 *                 └──────────── setStage ◀─────────────────┤
 *                                                          ▼
 *                                              notifiers (cloud/notify) ─▶ duty staff
 *
 * 预警 → 提醒 → 督办 → 反馈 → 办结 (warn → remind → supervise → feedback → close).
 * "有呼必应、有应必解决、有解决必反馈": every call answered, every answer resolved, every resolution
 * fed back — docs/architecture.md invariant 9: nothing reaches 办结 without a recorded cause and a person.
 */
import type { AlarmSeverity, SitePath } from '../../protocol/index.js';

/** Workflow stage of a case. */
export type Stage = 'warn' | 'remind' | 'supervise' | 'feedback' | 'closed';
export const STAGES: readonly Stage[] = ['warn', 'remind', 'supervise', 'feedback', 'closed'];
export const STAGE_LABELS: Record<Stage, { zh: string; en: string }> = {
  warn: { zh: '预警', en: 'Warning' },
  remind: { zh: '提醒', en: 'Reminder' },
  supervise: { zh: '督办', en: 'Supervision' },
  feedback: { zh: '反馈', en: 'Feedback' },
  closed: { zh: '办结', en: 'Closed' },
};

/**
 * The condition as the gateway reports it: active (raised), cleared, or latched — cleared but
 * waiting for an explicit reset (fire, gas high, manhole).
 */
export type Condition = 'active' | 'cleared' | 'latched';

/** ISA-18.2 / IEC 62682 view: condition × acknowledgement. */
export type IsaState = 'NORMAL' | 'UNACK' | 'ACKED' | 'RTN_UNACK';

export function isaState(condition: Condition, acked: boolean): IsaState {
  const active = condition !== 'cleared';
  if (active) return acked ? 'ACKED' : 'UNACK';
  return acked ? 'NORMAL' : 'RTN_UNACK';
}

export type FeedbackCause = 'real' | 'false_alarm' | 'test' | 'maintenance' | 'other';
export const FEEDBACK_CAUSE_LABELS: Record<FeedbackCause, { zh: string; en: string }> = {
  real: { zh: '真实警情', en: 'Real incident' },
  false_alarm: { zh: '误报', en: 'False alarm' },
  test: { zh: '测试', en: 'Test' },
  maintenance: { zh: '维护', en: 'Maintenance' },
  other: { zh: '其他', en: 'Other' },
};

export interface Person {
  /** A user id, or a directory entry id for people without a console account. */
  id: string;
  name: string;
}

/** One alarm case in the cloud: one per alarm id from the edge (docs/architecture.md invariant 7). */
export interface AlarmCase {
  id: string;
  gateway: string;
  site: SitePath;
  device: string;
  /** Location label of the device ("3号楼2单元 楼道"), from the registry. */
  location?: string;
  type: string;
  severity: AlarmSeverity;
  test: boolean;
  latched: boolean;
  /**
   * `gateway/device/type`, the condition: while a case of it is open, every new alarm of the
   * condition is another occurrence of that case, never a case of its own.
   */
  dedupKey: string;
  /** How many times the condition occurred in this case: 1, then 2, 3 … (`occurrences` has them). */
  occurrence: number;
  /**
   * The occurrences, oldest first: the alarm id from the edge, when it was raised, cleared, reset,
   * and its value. At most MAX_OCCURRENCE_HISTORY (cloud/alarms/model.ts) are kept here, the newest;
   * the audit trail keeps every one. Absent on cases stored before it existed.
   */
  occurrences?: Occurrence[];
  /**
   * Cloud time of the last thing a person did to move the case on (acknowledgement, feedback, a
   * reset request); absent = nobody yet. The red light (红灯) counts its 7 days from this, or from
   * `receivedAt` — a re-occurrence is not activity (cloud/alarms/README.md).
   */
  lastActivityAt?: number;
  condition: Condition;
  acked: boolean;
  ackedBy?: Person;
  ackedAt?: number;
  /** Operator-only, time-limited, with a reason (ISA-18.2 shelving). */
  shelved?: { until: number; by: Person; reason: string };
  /** Suppressed by design (e.g. walk test, a rule that says so). */
  suppressed: boolean;
  /** Out of service for maintenance. */
  outOfService?: { by: Person; reason: string; until?: number };
  stage: Stage;
  feedback?: { cause: FeedbackCause; note: string; photo?: string; by: Person; at: number };
  closedBy?: Person;
  closedAt?: number;
  /** Cloud time of the raise (gateway time corrected by the applied offset). */
  raisedAt: number;
  /**
   * Cloud clock when the case's first transition was received: what the board orders by, since a
   * gateway's clock is never trusted for ordering (docs/architecture.md invariant 11). Absent on cases stored
   * before it existed (then the earlier of raisedAt and updatedAt stands in).
   */
  receivedAt?: number;
  clearedAt?: number;
  resetAt?: number;
  updatedAt: number;
  value?: number | boolean | string;
  message?: string;
  /** The escalation policy (and its version) this case started with; it keeps it to the end. */
  policy?: { id: string; version: number };
  /**
   * Cases stored before re-occurrences joined their open case: the case that was open when this
   * one re-triggered the condition. New cases never set it.
   */
  previousCase?: string;
}

/** One occurrence of a case's condition (an alarm id from the edge). */
export interface Occurrence {
  alarm: string;
  /** Cloud time of the raise (gateway time corrected by the offset); absent until the raise arrives. */
  raisedAt?: number;
  /** Cloud clock when the cloud first heard of this occurrence. */
  receivedAt: number;
  clearedAt?: number;
  resetAt?: number;
  value?: number | boolean | string;
}

export type CaseEventKind =
  | 'raised'
  /** The condition occurred again while its case was open: the same case, one more occurrence. */
  | 'retriggered'
  | 'cleared'
  | 'latched'
  | 'reset'
  | 'acked'
  | 'feedback'
  | 'closed'
  | 'shelved'
  | 'unshelved'
  | 'stage'
  /** Taken out of service for maintenance (ISA-18.2): stop escalating it (added by cloud/alarms). */
  | 'out_of_service'
  /** Returned to service (ISA-18.2): annunciates again if still active (added by cloud/alarms). */
  | 'returned_to_service';

/** Something happened to a case (an entry of the case-event log); the escalation engine reacts to these. */
export interface CaseEvent {
  kind: CaseEventKind;
  case: AlarmCase;
  at: number;
  by?: Person;
}

/** The effect of one case-event log entry (the escalation engine's `onCaseEvent`); idempotent. */
export interface CaseEventSink {
  onCaseEvent(event: CaseEvent): Promise<void>;
}

/** The escalation engine moves cases to 提醒 / 督办 through the lifecycle (which audits it). */
export interface StageMover {
  setStage(caseId: string, stage: 'remind' | 'supervise', reason: string, at: number): Promise<void>;
}

/**
 * Which notifications a phone address is used for (added by cloud/notify): absent lists allow
 * all. A voice call, say, only for critical cases not acknowledged in time (stage remind).
 */
export interface AddressWhen {
  severities?: AlarmSeverity[];
  stages?: Stage[];
}

/** Where a person can be reached. Phone numbers are E.164 (`+8613800138000`). */
export type ChannelAddress =
  | { kind: 'webhook'; url: string; secret: string }
  | { kind: 'wecom'; webhookUrl: string }
  | { kind: 'dingtalk'; webhookUrl: string; secret: string }
  | { kind: 'email'; address: string }
  /** SMS through the configured provider (notify.sms: Aliyun Dysmsapi). */
  | { kind: 'sms'; phone: string; when?: AddressWhen }
  /** A text-to-speech call through the configured provider (notify.voice: Aliyun Dyvmsapi). */
  | { kind: 'voice'; phone: string; when?: AddressWhen }
  /** SMS through an operator's SMS centre over SMPP 3.4 (notify.smpp). */
  | { kind: 'smpp'; phone: string; when?: AddressWhen };

export interface Recipient extends Person {
  lang: 'zh' | 'en';
  channels: ChannelAddress[];
  /** E.164; WeCom and DingTalk robots @ the person by it (added by cloud/notify). */
  phone?: string;
}

/** What the escalation engine asks the notifiers to deliver. */
export interface NotificationRequest {
  /** Idempotency key: the same id is delivered at most once (two cloud instances, retries). */
  id: string;
  stage: Stage;
  /** The case, and others grouped with it (same community, short window, flood mode). */
  cases: AlarmCase[];
  recipients: Recipient[];
  /** Why now, for the message: "未在3分钟内确认" / "not acknowledged within 3 min". */
  reason: { zh: string; en: string };
  /** Links to act on the first case from the message. */
  links: { view: string; ack: string; feedback: string };
}

export interface DeliveryResult {
  recipient: string;
  channel: ChannelAddress['kind'];
  ok: boolean;
  attempts: number;
  error?: string;
  /** The address with secrets removed (robot keys, tokens masked), as stored (added by cloud/notify). */
  target?: string;
  /**
   * Set when this call sent nothing because of the idempotency record (added by cloud/notify):
   * `delivered` — an earlier call delivered it (ok: true, attempts: 0); `in_progress` — another
   * instance or call holds the claim and is sending it now (ok: false; its outcome is stored).
   */
  skipped?: 'delivered' | 'in_progress';
}

export interface DeliveryOptions {
  /**
   * Called as soon as every address of one recipient is done (delivered, given up or left to
   * another sender), before deliver() resolves: a recipient whose channels failed is escalated
   * without waiting for the others (added by cloud/notify).
   */
  onRecipient?(recipient: string, results: DeliveryResult[]): void;
}

export interface Notifier {
  /** Delivers with retries and backoff; every attempt is stored. Resolves when done or given up. */
  deliver(request: NotificationRequest, options?: DeliveryOptions): Promise<DeliveryResult[]>;
}

/**
 * Reads the current state of a case (the lifecycle implements it). The escalation engine checks a
 * step's condition (acked? closed? shelved?) against it at fire time; without one it uses the
 * newest case snapshot it received in CaseEvents.
 */
export interface CaseReader {
  getCase(id: string): Promise<AlarmCase | undefined>;
}

/**
 * One claim lease for the whole notification path (escalation plan rows and notifier deliveries):
 * a live holder renews its claims every third of it while the work runs (a slow channel), so a
 * dead instance's claims are taken over within seconds, and a row is never retaken while its
 * delivery is still claimed by a live sender. The same figure on both sides keeps them in step
 * (the mismatch of 60 s rows against 96 s deliveries recorded an unsent notice as sent).
 */
export const CLAIM_LEASE_MS = 6_000;
