/**
 * The notification store: one delivery row per (request, recipient, address) that is claimed
 * before anything is sent — the idempotency record — and one row per send attempt, for the
 * console and for audits. Adapters: memory, SQLite and PostgreSQL on the cloud store's
 * database (`CloudStore.handle()`), in their own tables with their own migrations table; one
 * contract suite (test/cloud/notify/store-contract.ts) runs against all three.
 */
import type { ChannelAddress } from '../../alarms/contract.js';

export type ChannelKind = ChannelAddress['kind'];

/** Identity of one delivery: request id + recipient + address (kind and a hash of the address). */
export interface DeliveryKey {
  requestId: string;
  recipient: string;
  /** `kind:` + hex prefix of sha256 of the address: two e-mail addresses are two deliveries. */
  addressKey: string;
}

export type DeliveryState = 'sending' | 'delivered' | 'failed';

export interface DeliveryRecord extends DeliveryKey {
  channel: ChannelKind;
  /** The address with secrets removed. */
  target: string;
  state: DeliveryState;
  /** Attempts made so far, over every claim. */
  attempts: number;
  error?: string;
  createdAt: number;
  updatedAt: number;
}

export type AttemptStatus = 'ok' | 'failed' | 'timeout';

export interface AttemptRecord extends DeliveryKey {
  channel: ChannelKind;
  target: string;
  /** 1, 2, 3 … over every claim of this delivery. */
  attempt: number;
  status: AttemptStatus;
  httpStatus?: number;
  /** Vendor errcode (WeCom/DingTalk) or SMTP reply code. */
  errcode?: number;
  latencyMs: number;
  error?: string;
  /** Cloud clock at the start of the attempt. */
  at: number;
}

export interface ClaimInput {
  key: DeliveryKey;
  channel: ChannelKind;
  target: string;
  caseIds: readonly string[];
  /** Unique per deliver() call, so a second call in the same process cannot take it over. */
  owner: string;
  now: number;
  /** Until then nobody else may take the claim; after it, a crashed sender's claim is taken over. */
  leaseUntil: number;
}

export type ClaimResult =
  | { claimed: true; attemptsSoFar: number }
  | { claimed: false; state: 'delivered' | 'sending'; attempts: number };

export interface NotificationStore {
  /** Creates or migrates the notification tables (idempotent, safe from two instances at once). */
  migrate(): Promise<void>;
  /**
   * Claims a delivery: inserts it as `sending`, or takes over one that `failed` earlier or whose
   * lease expired. A delivered one, or one another owner is sending, is not claimed.
   */
  claim(input: ClaimInput): Promise<ClaimResult>;
  recordAttempt(attempt: AttemptRecord): Promise<void>;
  /** Extends a live claim (the sender is still at it); false when the claim was lost meanwhile. */
  renew(key: DeliveryKey, owner: string, leaseUntil: number): Promise<boolean>;
  /** Ends a claim; false when the claim was lost (lease expired and taken over). */
  finish(
    key: DeliveryKey,
    owner: string,
    outcome: { ok: boolean; attempts: number; error?: string },
    now: number,
  ): Promise<boolean>;
  delivery(key: DeliveryKey): Promise<DeliveryRecord | undefined>;
  deliveriesByRequest(requestId: string): Promise<DeliveryRecord[]>;
  /** In order of (recipient, address, attempt). */
  attemptsByRequest(requestId: string): Promise<AttemptRecord[]>;
  /** Attempts of every request that included the case, in the order they were made. */
  attemptsByCase(caseId: string): Promise<AttemptRecord[]>;
}
