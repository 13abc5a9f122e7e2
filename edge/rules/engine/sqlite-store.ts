import { existsSync, unlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from '../../../common/log.js';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import { DoorstepError, isDoorstepError } from '../../../protocol/errors.js';
import { faultPoint } from '../../fault.js';
import { SqliteOutbox } from '../../outbox/sqlite.js';
import type { Outbox, OutboxEntry } from '../../outbox/types.js';
import type { RuleState, RuleStateStore } from './state.js';

const PREFIX = 'rule/';
const MIGRATED = 'migrated/rules.db';

function keyOf(device: string, type: string): string {
  return `${PREFIX}${JSON.stringify([device, type])}`;
}

/**
 * Rule state kept in the outbox's own database, so the state that decides an alarm and the alarm's
 * outbox row commit in one SQLite transaction (docs/architecture.md: "the gateway's outbox commits with the rule
 * state"). Two files cannot do that: SQLite makes a transaction over ATTACHed WAL databases atomic
 * per file only (sqlite.org/lang_attach.html), and with the alarm committed first a kill -9 in
 * between raised the same detection twice after restart.
 *
 * `legacyFile`: the `rules.db` of gateways from before this layout. At open its rows are copied into
 * the outbox in one transaction together with a marker, and the file is deleted after; a crash in
 * between finds the marker and only deletes the file.
 */
export class OutboxRuleStateStore implements RuleStateStore {
  readonly #outbox: Outbox;
  readonly #legacyFile: string | undefined;
  readonly #logger: Logger | undefined;
  readonly #ownsOutbox: boolean;

  constructor(outbox: Outbox, options: { legacyFile?: string; logger?: Logger; ownsOutbox?: boolean } = {}) {
    this.#outbox = outbox;
    this.#legacyFile = options.legacyFile;
    this.#logger = options.logger;
    this.#ownsOutbox = options.ownsOutbox ?? false;
  }

  open(): void {
    this.#outbox.open();
    if (this.#legacyFile !== undefined && existsSync(this.#legacyFile)) this.#migrate(this.#legacyFile);
  }

  loadAll(): RuleState[] {
    return this.#outbox.loadSideState(PREFIX).map((row) => JSON.parse(row.value) as RuleState);
  }

  /**
   * One transaction: the rule states, the deletions and the alarm transitions they decided. If it
   * throws (a full disk even after the reserve), nothing was written; the engine retries the lot.
   */
  write(
    upserts: readonly RuleState[],
    deletions: readonly { device: string; type: string }[],
    transitions: readonly AlarmTransition[] = [],
  ): void {
    const entries: OutboxEntry[] = transitions.map((t) => ({ class: 'alarm', payload: t, ts: t.ts }));
    this.#outbox.put(entries, {
      set: upserts.map((state) => ({ key: keyOf(state.device, state.type), value: JSON.stringify(state) })),
      remove: deletions.map(({ device, type }) => keyOf(device, type)),
    });
    if (transitions.length > 0) faultPoint('decision:after-commit');
  }

  close(): void {
    if (this.#ownsOutbox) this.#outbox.close();
  }

  #migrate(file: string): void {
    const done = this.#outbox.loadSideState(MIGRATED).length > 0;
    let rows = 0;
    if (!done) {
      const legacy = readLegacyRuleState(file);
      const present = new Set(this.#outbox.loadSideState(PREFIX).map((row) => row.key));
      const set = legacy
        .map((state) => ({ key: keyOf(state.device, state.type), value: JSON.stringify(state) }))
        .filter((row) => !present.has(row.key));
      rows = set.length;
      set.push({ key: MIGRATED, value: JSON.stringify({ from: file, rows, at: Date.now() }) });
      this.#outbox.put([], { set, remove: [] });
    }
    for (const path of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        unlinkSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          this.#logger?.warn({ err: error, file: path }, 'migrated rule state file not deleted');
      }
    }
    if (!done) this.#logger?.info({ file, rows }, 'rule state moved into the outbox database');
  }
}

/** Reads the rule states of a `rules.db` from before rule state moved into the outbox database. */
export function readLegacyRuleState(file: string): RuleState[] {
  let db: Database.Database | undefined;
  try {
    // Opened read-write so a WAL left by a kill -9 is recovered into what we read.
    db = new Database(file, { fileMustExist: true });
    const table = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rule_state'")
      .get();
    if (table === undefined) return [];
    const rows = db.prepare('SELECT state FROM rule_state').all() as { state: string }[];
    return rows.map((row) => JSON.parse(row.state) as RuleState);
  } catch (error) {
    throw new DoorstepError(
      'EDGE_ERR_RULE_STATE',
      { file, reason: `legacy rule state unreadable: ${(error as Error).message}` },
      { cause: error },
    );
  } finally {
    db?.close();
  }
}

/**
 * Rule state and the alarms it decides in one SQLite file of its own (an outbox database): for
 * tools and tests that run the engine without a gateway. The gateway uses OutboxRuleStateStore
 * over its outbox.
 */
export class SqliteRuleStateStore implements RuleStateStore {
  readonly #file: string;
  #store: OutboxRuleStateStore | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  open(): void {
    if (this.#store) return;
    const store = new OutboxRuleStateStore(
      new SqliteOutbox({ path: this.#file, config: { reserveBytes: 0 } }),
      {
        ownsOutbox: true,
      },
    );
    try {
      store.open();
    } catch (error) {
      throw new DoorstepError(
        'EDGE_ERR_RULE_STATE',
        { file: this.#file, reason: isDoorstepError(error) ? error.message : (error as Error).message },
        { cause: error },
      );
    }
    this.#store = store;
  }

  #require(): OutboxRuleStateStore {
    if (!this.#store)
      throw new DoorstepError('EDGE_ERR_RULE_STATE', { file: this.#file, reason: 'store is not open' });
    return this.#store;
  }

  loadAll(): RuleState[] {
    return this.#require().loadAll();
  }

  write(
    upserts: readonly RuleState[],
    deletions: readonly { device: string; type: string }[],
    transitions: readonly AlarmTransition[] = [],
  ): void {
    this.#require().write(upserts, deletions, transitions);
  }

  close(): void {
    this.#store?.close();
    this.#store = undefined;
  }
}
