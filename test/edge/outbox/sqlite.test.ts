import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { OUTBOX_SCHEMA_VERSION } from '../../../edge/outbox/sqlite-schema.js';
import { isDoorstepError } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';
import { alarm, reading } from './helpers.js';

describe('SqliteOutbox specifics', () => {
  const dir = tempDir('doorstep-outbox-sqlite-');
  after(() => dir.dispose());
  let files = 0;
  const freshPath = () => join(dir.path, `outbox-${files++}.db`);

  it('does no I/O in the constructor and opens in WAL at the current schema version', () => {
    const path = freshPath();
    const outbox = new SqliteOutbox({ path });
    assert.equal(existsSync(path), false);
    outbox.open();
    outbox.put([alarm('a1', 1)]);
    outbox.close();
    const db = new Database(path);
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), OUTBOX_SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('checkpoints and truncates the WAL on close', () => {
    const path = freshPath();
    const outbox = new SqliteOutbox({ path });
    outbox.open();
    outbox.put(Array.from({ length: 2000 }, (_, i) => reading(i + 1)));
    assert.ok(statSync(`${path}-wal`).size > 0);
    assert.ok(outbox.maintain().checkpointedFrames > 0, 'maintain() checkpoints');
    outbox.close();
    assert.equal(existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0, 0);
  });

  it('lets one process write: a second opener fails with EDGE_ERR_OUTBOX_OPEN', () => {
    const path = freshPath();
    const first = new SqliteOutbox({ path });
    first.open();
    first.put([reading(1)]);
    const second = new SqliteOutbox({ path, busyTimeoutMs: 50 });
    try {
      assert.throws(
        () => second.open(),
        (e: unknown) => isDoorstepError(e, 'EDGE_ERR_OUTBOX_OPEN'),
      );
    } finally {
      second.close();
      first.close();
    }
  });

  it('refuses a file written by a newer schema', () => {
    const path = freshPath();
    const db = new Database(path);
    db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION + 1}`);
    db.close();
    const outbox = new SqliteOutbox({ path });
    assert.throws(
      () => outbox.open(),
      (e: unknown) =>
        isDoorstepError(e, 'EDGE_ERR_OUTBOX_SCHEMA') && e.details.found === OUTBOX_SCHEMA_VERSION + 1,
    );
  });

  it('reports an unopenable path with EDGE_ERR_OUTBOX_OPEN', () => {
    const outbox = new SqliteOutbox({ path: join(dir.path, 'no-such-dir', 'outbox.db') });
    assert.throws(
      () => outbox.open(),
      (e: unknown) => isDoorstepError(e, 'EDGE_ERR_OUTBOX_OPEN'),
    );
  });

  it('sets a row with an unreadable payload aside instead of blocking sync', () => {
    const path = freshPath();
    let outbox = new SqliteOutbox({ path });
    outbox.open();
    outbox.put([reading(1), reading(2), reading(3)]);
    outbox.close();
    const db = new Database(path);
    db.prepare("UPDATE entries SET payload = '{broken' WHERE seq = 2").run();
    db.close();
    outbox = new SqliteOutbox({ path });
    outbox.open();
    try {
      assert.deepEqual(outbox.nextBatch().seqs, [1, 3]);
      const [quarantined] = outbox.listQuarantine();
      assert.equal(quarantined?.seq, 2);
      assert.match(quarantined?.reason ?? '', /unreadable payload/);
      assert.deepEqual(quarantined?.payload, { kind: 'unreadable', raw: '{broken' });
      assert.deepEqual(outbox.nextBatch().seqs, [1, 3]);
    } finally {
      outbox.close();
    }
  });

  it("in syncMode 'alarms' stores the same rows (only the fsync policy differs)", () => {
    const path = freshPath();
    let outbox = new SqliteOutbox({ path, config: { syncMode: 'alarms' } });
    outbox.open();
    outbox.put([reading(1)]);
    outbox.put([alarm('a1', 2)]);
    outbox.put([reading(3)]);
    outbox.close();
    outbox = new SqliteOutbox({ path });
    outbox.open();
    try {
      assert.deepEqual(outbox.nextBatch().seqs, [2, 1, 3]);
    } finally {
      outbox.close();
    }
  });
});
