import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { SqliteCloudStore } from '../../cloud/store/sqlite/store.js';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import type { OutboxStats } from '../../edge/outbox/types.js';
import { freePort } from '../support/net.js';
import {
  type DoorstepProcess,
  enrollGateway,
  startDoorstep,
  writeCloudConfig,
} from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { fillDisk, tmpfsMount } from '../support/tmpfs.js';

const ADMIN: [string, string] = ['admin', 'correct horse battery'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

interface EdgeHealth {
  problems: string[];
  outbox: OutboxStats;
  disk: { freeBytes: number; storage_full: boolean; reserveHeld: number; unsavedAlarms: number };
  rules: { transitions: Record<string, number> };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const v = await probe().catch((error) => {
      last = error;
      return undefined;
    });
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${last ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A real full disk: the gateway's data directory is a 4 MiB tmpfs, filled with dd while the cloud
 * is down. A critical smoke alarm and six tamper transitions are raised while it is full; then space
 * is freed and the cloud comes back. Counted on both sides: every alarm in the cloud exactly once,
 * every telemetry row either in the cloud or counted as dropped, the outbox empty at the end.
 */
describe('full disk on the gateway (real tmpfs, real processes)', () => {
  const dir = tempDir('doorstep-e2e-disk-');
  let disk: { path: string; dispose(): void } | undefined;
  let site: RunningSimSite | undefined;
  let cloud: DoorstepProcess | undefined;
  let edge: DoorstepProcess | undefined;
  let cloudUrl = '';
  let edgeHealth = '';
  const cloudConfig = join(dir.path, 'cloud.yaml');
  const edgeConfig = join(dir.path, 'gateway.yaml');

  const startCloud = async () => {
    cloud = startDoorstep(['cloud', '--config', cloudConfig]);
    await cloud.waitFor(/doorstep cloud listening on /);
  };
  const health = async () => (await (await fetch(edgeHealth)).json()) as EdgeHealth;
  const transitions = async () =>
    Object.values((await health()).rules.transitions).reduce((a, b) => a + b, 0);

  before(async () => {
    disk = tmpfsMount('4m');
    const port = await freePort();
    cloudUrl = `http://127.0.0.1:${port}/`;
    writeCloudConfig(cloudConfig, { port, db: join(dir.path, 'cloud.db'), admin: ADMIN });
    await startCloud();
    const { secret } = await enrollGateway(cloudUrl, ADMIN, { id: 'gw-disk', site: SITE });
    writeFileSync(join(dir.path, 'gateway.secret'), secret, { mode: 0o600 });
    // The cloud is down from here until space is back.
    assert.equal(await cloud!.stop('SIGTERM'), 0);

    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'smoke-a', profile: 'smoke-status-register', unitId: 1 },
            { id: 'gas-1', profile: 'gas-float32-abcd', unitId: 2 },
            { id: 'pressure-1', profile: 'pressure-float32-loop', unitId: 3 },
          ],
        },
      ],
    });
    const simPort = site.tcp[0]!.port;
    const device = (id: string, profile: string, unitId: number) => ({
      id,
      bus: 'lan',
      profile,
      unitId,
      host: '127.0.0.1',
      port: simPort,
      location: id,
      pollIntervals: { critical: 200, normal: 200, diagnostic: 200 },
    });
    writeFileSync(
      edgeConfig,
      stringify({
        gateway: { id: 'gw-disk', site: SITE },
        buses: [{ id: 'lan', type: 'tcp', timeoutMs: 300 }],
        devices: [
          device('smoke-a', 'smoke-status-register', 1),
          device('gas-1', 'gas-float32-abcd', 2),
          device('pressure-1', 'pressure-float32-loop', 3),
        ],
        storage: { dataDir: disk.path },
        outbox: { reserveBytes: 256 * 1024 },
        telemetry: { deadbandPercent: 0, heartbeatMs: 1000, flushIntervalMs: 200 },
        uplink: {
          url: cloudUrl,
          credentialsFile: join(dir.path, 'gateway.secret'),
          intervalMs: 300,
          requestTimeoutMs: 3000,
          backlogRowsPerSecond: 'max',
          batchRows: 500,
        },
        health: { port: 0 },
      }),
    );
    edge = startDoorstep(['edge', '--config', edgeConfig], { DOORSTEP_LOG_LEVEL: 'warn' });
    const line = await edge.waitFor(/health http:\/\/\S+\/health/);
    edgeHealth = /health (http:\/\/\S+\/health)/.exec(line)![1]!;
  });

  after(async () => {
    await edge?.stop('SIGKILL');
    await cloud?.stop('SIGKILL');
    await site?.stop();
    disk?.dispose();
    dir.dispose();
  });

  it('loses no alarm, counts every telemetry drop, and delivers everything once space is back', async () => {
    await until('telemetry buffered', async () => (await health()).outbox.pending.telemetry.rows >= 100);
    const smoke = site!.devices.get('smoke-a')!;

    // dd takes every free block of the data directory's file system.
    fillDisk(join(disk!.path, 'fill'));
    const full = await until('storage_full reported', async () => {
      const h = await health();
      return h.disk.storage_full && h;
    });
    assert.ok(
      full.problems.some((p) => p.startsWith('storage full')),
      `a problem names the disk: ${full.problems.join('; ')}`,
    );
    // Telemetry keeps coming while the disk is full: a few seconds' worth replaces the oldest.
    await until(
      'telemetry dropped oldest-first and counted',
      async () => (await health()).outbox.counters.dropped.telemetry.storage_full >= 50,
    );

    // A critical alarm and six more transitions while the disk is full.
    const atFill = await health();
    const before = Object.values(atFill.rules.transitions).reduce((a, b) => a + b, 0);
    const pendingAtFill = atFill.outbox.pending.alarm.rows;
    smoke.set({ smoke: true });
    await until('smoke raised', async () => (await transitions()) >= before + 1);
    for (let i = 0; i < 3; i++) {
      const n = await transitions();
      smoke.set({ tamper: true });
      await until('tamper raised', async () => (await transitions()) >= n + 1);
      smoke.set({ tamper: false });
      await until('tamper cleared', async () => (await transitions()) >= n + 2);
    }
    const whileFull = await health();
    assert.equal(whileFull.disk.storage_full, true, 'still full');
    assert.equal(whileFull.disk.unsavedAlarms, 0, 'every transition is on disk (the reserve took them)');
    // Every transition decided while full is pending on disk: the seven above, and on a loaded
    // machine possibly one of the gateway's own (a device late to answer), decided meanwhile.
    const decided = Object.values(whileFull.rules.transitions).reduce((a, b) => a + b, 0);
    assert.ok(decided >= before + 7, `at least the seven transitions decided (${decided - before})`);
    assert.equal(
      whileFull.outbox.pending.alarm.rows - pendingAtFill,
      decided - before,
      `each transition decided while full is pending: ${JSON.stringify(whileFull.rules.transitions)}`,
    );

    // Space comes back, then the cloud.
    rmSync(join(disk!.path, 'fill'));
    await until('storage_full cleared and the reserve back', async () => {
      const h = await health();
      return !h.disk.storage_full && h.disk.reserveHeld === 256 * 1024;
    });
    await startCloud();
    await until('alarms delivered', async () => (await health()).outbox.pending.alarm.rows === 0);

    // Silence the field, let the backlog drain (acked rows deleted), stop both cleanly and count.
    await site!.stop();
    site = undefined;
    await until('outbox empty', async () => (await health()).outbox.totalRows === 0, 120_000);
    // Devices going offline after the field went silent may add transitions of their own.
    const decidedInAll = await transitions();
    assert.equal(await edge!.stop('SIGTERM'), 0);
    assert.equal(await cloud!.stop('SIGTERM'), 0);

    const outbox = new SqliteOutbox({ path: join(disk!.path, 'outbox.db'), config: { reserveBytes: 0 } });
    outbox.open();
    const stats = outbox.stats();
    outbox.close();
    const db = new Database(join(dir.path, 'cloud.db'), { readonly: true });
    const count = (sql: string) => (db.prepare(sql).get('gw-disk') as { n: number }).n;
    const cloudAlarms = count('SELECT count(*) AS n FROM alarm_transitions WHERE gateway = ?');
    const cloudDistinct = count(
      "SELECT count(DISTINCT alarm_id || '/' || state) AS n FROM alarm_transitions WHERE gateway = ?",
    );
    const smokeRaised = count(
      "SELECT count(*) AS n FROM alarm_transitions WHERE gateway = ? AND type = 'smoke' AND state = 'raised'",
    );
    db.close();
    const store = new SqliteCloudStore({ path: join(dir.path, 'cloud.db') });
    const stored = await store.countRecords('gw-disk');
    await store.close();
    const cloudEvents = stored.events;
    const cloudTelemetry = stored.telemetry;

    const d = stats.counters.dropped;
    const evicted = (cls: 'alarm' | 'event' | 'telemetry') =>
      d[cls].cap + d[cls].ttl + d[cls].downsample + d[cls].quarantine_cap + d[cls].storage_full;
    // The outbox was empty before the stop (acked rows deleted once space returned); the stop
    // itself records a few events (devices going offline) that wait for the next run.
    assert.equal(stats.pending.alarm.rows, 0, 'no alarm left behind');
    assert.equal(stats.pending.telemetry.rows, 0);
    assert.equal(evicted('alarm') + d.alarm.storage_refused, 0, 'no alarm dropped');
    assert.equal(cloudAlarms, decidedInAll, 'every alarm transition in the cloud');
    assert.equal(cloudDistinct, cloudAlarms, 'each exactly once');
    assert.equal(smokeRaised, 1, 'the critical smoke alarm once');
    assert.ok(d.telemetry.storage_full >= 50, `telemetry drops counted: ${JSON.stringify(d.telemetry)}`);
    // Every row the outbox accepted is in the cloud or counted as evicted; refused ones never got in.
    assert.equal(
      cloudAlarms + cloudEvents + cloudTelemetry,
      stats.counters.accepted - evicted('alarm') - evicted('event') - evicted('telemetry') - stats.totalRows,
      `cloud holds what the gateway kept: ${JSON.stringify(stats.counters)}`,
    );
    assert.equal(
      stats.counters.acked,
      stats.counters.accepted - evicted('event') - evicted('telemetry') - stats.totalRows,
    );
  });
});
