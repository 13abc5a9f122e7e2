/**
 * A throwaway PostgreSQL 15 cluster for tests and benchmarks (~1 s to start), following
 * docs/stack.md: as root, a temp dir owned by `postgres`, `initdb -A trust
 * --no-sync`, `pg_ctl start` on a free loopback port with the socket in the temp dir and
 * fsync=off; `stop()` stops it immediately and removes the dir. Async child processes only (a
 * blocking exec while a server runs in-process can deadlock the event loop). Share one cluster per
 * test file and create a database per test or group with `createDatabase()`.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './net.js';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export interface PgCluster {
  port: number;
  /** Connection URL of a database in this cluster. */
  url(database: string): string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /**
   * Brings a fresh cluster's WAL to the state of one that has been running: writes `bytes` of WAL
   * (logical messages, no table touched) and checkpoints, so the segments are recycled for reuse
   * (up to `min_wal_size`) instead of being created — and zero-filled — on first use.
   */
  preallocateWal(bytes: number): Promise<void>;
  /** Stops the server (immediate mode) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

let counter = 0;

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

const asPostgres = (cmd: string, args: string[]) =>
  run('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args]);

/**
 * The WAL sizing cloud/store/README.md recommends for a cloud database: with `min_wal_size` this
 * large, a checkpoint keeps 2 GB of used WAL segments for reuse, so a burst of ingest writes into
 * recycled segments instead of creating new ones (each zero-filled under the WAL write lock while
 * every commit — an alarm's too — waits).
 */
export const RECOMMENDED_WAL_SETTINGS: Readonly<Record<string, string>> = {
  min_wal_size: '2GB',
  max_wal_size: '4GB',
};

export interface StartOptions {
  /** Keep fsync and full-page writes on (benchmarks of durable commits); tests leave them off. */
  durable?: boolean;
  /** Extra server settings (`-c name=value`), e.g. the WAL sizing of cloud/store/README.md. */
  settings?: Record<string, string>;
}

export async function startPostgres(options: StartOptions = {}): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'doorstep-pg-'));
  const data = join(dir, 'data');
  let started = false;
  const cleanup = async () => {
    if (started) {
      started = false;
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
    // --locale=C: byte-order text comparison and no dependence on the host's locales.
    await asPostgres('initdb', [
      '-D',
      data,
      '-A',
      'trust',
      '--no-sync',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const durability = options.durable ? '' : ' -c fsync=off -c full_page_writes=off';
      const extra = Object.entries(options.settings ?? {})
        .map(([name, value]) => ` -c ${name}=${value}`)
        .join('');
      const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}${durability} -c max_connections=60${extra}`;
      try {
        await asPostgres('pg_ctl', [
          '-D',
          data,
          '-w',
          '-t',
          '30',
          '-l',
          join(dir, 'log'),
          '-o',
          opts,
          'start',
        ]);
        started = true;
        break;
      } catch (error) {
        // The port may have been taken between freePort() and the server's bind: try another.
        if (attempt >= 2) throw error;
      }
    }
    const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
    return {
      port,
      url,
      async createDatabase(name = `t_${process.pid}_${++counter}`) {
        const client = new pg.Client({ connectionString: url('postgres') });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
        } finally {
          await client.end();
        }
        return url(name);
      },
      async preallocateWal(bytes) {
        const client = new pg.Client({ connectionString: url('postgres') });
        await client.connect();
        try {
          const chunk = 1 << 20;
          await client.query(
            `SELECT pg_logical_emit_message(false, 'doorstep-preallocate', repeat('x', $1)) FROM generate_series(1, $2)`,
            [chunk, Math.ceil(bytes / chunk)],
          );
          await client.query('CHECKPOINT');
        } finally {
          await client.end();
        }
      },
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
