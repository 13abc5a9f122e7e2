import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { tempDir } from '../../support/tmp.js';

const script = fileURLToPath(new URL('./fixtures/put-alarms.ts', import.meta.url));
const ROUNDS = 3;

/** Runs the child until it printed at least `minIds` ids (random extra so the kill lands anywhere), then SIGKILLs it. */
async function runAndKill(path: string, round: number, minIds: number): Promise<string[]> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, path, String(round)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines: string[] = [];
  let partial = '';
  const target = minIds + Math.floor(Math.random() * minIds);
  const exited = once(child, 'exit');
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        const text = partial + chunk.toString();
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
        if (lines.length > target) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`child exited early (${code ?? signal}): ${stderr}`));
      });
    });
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  // Bytes already in the pipe when the child died still arrive; a complete line is a put that returned.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines[0], 'ready');
  return lines.slice(1);
}

describe('SQLite outbox survives kill -9 mid-write', () => {
  const dir = tempDir('doorstep-outbox-crash-');
  after(() => dir.dispose());

  it(`keeps every alarm whose put() returned, over ${ROUNDS} kills`, async () => {
    const path = join(dir.path, 'outbox.db');
    const printed: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      printed.push(...(await runAndKill(path, round, 150)));

      const db = new Database(path);
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        const stored = new Set(
          db
            .prepare("SELECT json_extract(payload, '$.id') FROM entries WHERE class = 0")
            .pluck()
            .all() as string[],
        );
        const missing = printed.filter((id) => !stored.has(id));
        assert.deepEqual(missing, [], `round ${round}: ids printed but not stored`);
      } finally {
        db.close();
      }
      // The outbox itself reopens the crashed file and agrees on what is pending.
      const outbox = new SqliteOutbox({ path });
      outbox.open();
      try {
        assert.ok(outbox.stats().pending.alarm.rows >= printed.length);
        assert.ok(outbox.stats().nextSeq > 1);
      } finally {
        outbox.close();
      }
    }
    assert.ok(printed.length >= ROUNDS * 150);
  });
});
