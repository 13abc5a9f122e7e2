/**
 * Drain a 24-hour backlog of 1 000 sensors at one reading per 10 s (8.64 million readings) from one
 * gateway's SQLite outbox into a local `doorstep cloud` on SQLite, through the real uplink (gzip,
 * columnar telemetry, exactly-once acknowledgement). Targets: ≤ 3 minutes; ≤ 16 bytes on the wire
 * per reading. The cloud runs as its own process (the other core), the uplink in this one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SqliteCloudStore } from '../../cloud/store/sqlite/store.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import type { OutboxEntry } from '../../edge/outbox/types.js';
import { Uplink } from '../../edge/uplink/uplink.js';
import { freePort } from '../support/net.js';
import { enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { report } from './report.js';

const SENSORS = Number(process.env.DRAIN_SENSORS ?? 1000);
const HOURS = Number(process.env.DRAIN_HOURS ?? 24);
const PERIOD_MS = 10_000;
const READINGS = SENSORS * ((HOURS * 3600_000) / PERIOD_MS);
const ADMIN: [string, string] = ['admin', 'bench admin password'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const dir = tempDir('doorstep-bench-drain-');

const port = await freePort();
const url = `http://127.0.0.1:${port}/`;
writeFileSync(
  join(dir.path, 'cloud.yaml'),
  stringify({
    district: { slug: 'pudong', name: '浦东新区' },
    http: { host: '127.0.0.1', port, rateLimit: { max: 1_000_000, timeWindowMs: 60_000 } },
    storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
    bootstrap: {
      admin: { username: ADMIN[0], password: ADMIN[1] },
      sites: [
        { path: 'pudong/zhangjiang', name: '张江镇' },
        { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
      ],
    },
    log: { level: 'warn' },
  }),
);
const cloud = startDoorstep(['cloud', '--config', join(dir.path, 'cloud.yaml')]);
await cloud.waitFor(/doorstep cloud listening on /);
const { secret } = await enrollGateway(url, ADMIN, { id: 'gw-drain', site: SITE });

// The backlog: 24 h of readings, 1 000 sensors (pressure transmitters and gas detectors with noise).
const BIG = 4 * 1024 * 1024 * 1024;
const outbox = new SqliteOutbox({
  path: join(dir.path, 'outbox.db'),
  config: {
    classes: { telemetry: { maxRows: READINGS + 1000, maxBytes: BIG, ttlMs: 30 * 86_400_000 } },
    store: { maxRows: READINGS + 10_000, maxBytes: BIG },
    syncMode: 'alarms',
  },
});
outbox.open();
const fillStart = performance.now();
const t0 = Date.now() - HOURS * 3600_000;
const value = new Float64Array(SENSORS).map((_, i) => (i % 2 === 0 ? 0.35 : 0));
let entries: OutboxEntry[] = [];
for (let step = 0; step < (HOURS * 3600_000) / PERIOD_MS; step++) {
  const ts = t0 + step * PERIOD_MS;
  for (let s = 0; s < SENSORS; s++) {
    const pressure = s % 2 === 0;
    value[s] = pressure
      ? Math.round((0.35 + Math.sin(step / 500 + s) * 0.02) * 1000) / 1000
      : Math.round(Math.random() * 3) / 10;
    entries.push({
      class: 'telemetry',
      ts,
      payload: {
        device: `dev-${s}`,
        point: pressure ? 'pressure' : 'gas',
        value: value[s]!,
        unit: pressure ? 'MPa' : '%LEL',
        quality: 'good',
        ts,
      },
    });
  }
  if (entries.length >= 20_000) {
    outbox.put(entries);
    entries = [];
  }
}
if (entries.length > 0) outbox.put(entries);
console.log(
  `backlog of ${outbox.stats().totalRows} readings written in ${((performance.now() - fillStart) / 1000).toFixed(0)} s`,
);

const uplink = new Uplink({
  baseUrl: url,
  gateway: 'gw-drain',
  site: SITE,
  credentials: () => secret,
  outbox,
  batch: { rows: 10_000, bytes: 8 * 1024 * 1024 },
  backlogPace: 'max',
  requestTimeoutMs: 60_000,
  intervalMs: 200,
});
const start = performance.now();
uplink.start();
while (outbox.stats().totalRows > 0) await new Promise((r) => setTimeout(r, 250));
const seconds = (performance.now() - start) / 1000;
const stats = uplink.stats();
await uplink.stop();
outbox.close();
await cloud.stop('SIGTERM');
const store = new SqliteCloudStore({ path: join(dir.path, 'cloud.db') });
const stored = await store.countRecords('gw-drain');
await store.close();
dir.dispose();

const rows = stats.rowsAcked.telemetry;
console.log(
  `drained ${rows} readings in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} readings/s), ${stats.batches.acked} batches; cloud holds ${stored.telemetry}`,
);
if (stored.telemetry !== READINGS)
  console.log(`!!! the cloud holds ${stored.telemetry}, expected ${READINGS}`);
report({
  name: `drain a ${HOURS} h backlog of ${SENSORS} sensors at 1 reading / 10 s (${READINGS} readings) into a local cloud on SQLite`,
  value: seconds,
  unit: 's',
  target: 180,
  comparator: '<=',
});
report({
  name: 'bytes on the wire per reading after compression (backlog batches)',
  value: stats.bytes.wire / rows,
  unit: 'bytes',
  target: 16,
  comparator: '<=',
});
