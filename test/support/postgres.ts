/**
 * A throwaway PostgreSQL 15 cluster for tests and benchmarks (~1 s to start), following
 * /work/shared/reference/stack-notes.md: as root, a temp dir owned by `postgres`, `initdb -A trust
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

export interface StartOptions {
  /** Keep fsync and full-page writes on (benchmarks of durable commits); tests leave them off. */
  durable?: boolean;
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
      const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}${durability} -c max_connections=60`;
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
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
