/**
 * From the field to a person:
 *  0. alarm ingested → first notification received by the duty inbox, p50 and p99 per severity
 *     (critical smoke, major gas_low), idle and with one robot endpoint black-holed (accepts the
 *     connection, never answers; attempt timeout 30 s) beside the inbox — default noise control,
 *     so grouping, rate limit and flood mode are in force — target p99 ≤ 1 s (invariant 8);
 *     and in a flood: 100 new alarms in one minute across 10 communities;
 *  1. alarm ingested → first notification handed to its channel (the duty inbox's webhook), p50 and
 *     p99 per severity, while a gateway streams 10 000 readings/s into the same cloud — target p99 ≤ 1 s;
 *
 * The cloud is `doorstep cloud` itself (cloud/build.ts, the production composition): the case's
 * change and its log entry commit together, escalation reads the case-event log (woken by the
 * commit), plans and hands the 预警 to the webhook channel.
 *  2. the whole chain as in the demo — a simulated detector's register changes → gateway poll (1 s)
 *     → rules → outbox → uplink → cloud → case → escalation → notification received — target ≤ 10 s
 *     (GB 26875.1-2011 §4.1.2.1: fire alarm to the monitoring centre within 10 s).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { DutyInbox } from '../../cloud/notify/inbox.js';
import { startSimSite } from '../../drivers/sim/site.js';
import { validateGatewayConfig } from '../../edge/config/load.js';
import { buildEdge } from '../../edge/runtime/gateway.js';
import { uplinkExtension } from '../../edge/runtime/uplink-extension.js';
import { packTelemetry } from '../../protocol/index.js';
import { freePort } from '../support/net.js';
import { enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { report } from './report.js';

const ADMIN: [string, string] = ['admin', 'bench admin password'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const SECRET = 'bench-inbox-secret-0123456789';
const dir = tempDir('doorstep-bench-a2n-');
const pct = (s: number[], p: number) =>
  s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;

/** Ten communities for the flood. */
const FLOOD_SITES = Array.from({ length: 10 }, (_, i) => `flood-${i}`);
const SITE_HOLE = { district: 'pudong', town: 'zhangjiang', community: 'lane-200' };
const holeSockets: Socket[] = [];
const hole = createServer((s) => {
  holeSockets.push(s);
  s.on('error', () => {});
});
await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
const holeUrl = `http://127.0.0.1:${(hole.address() as { port: number }).port}/robot`;

const inbox = new DutyInbox({ port: 0, secret: SECRET, keep: 10_000 });
await inbox.start();
const received = new Map<string, number>();
inbox.onMessage((m) => {
  for (const c of m.payload.cases) if (!received.has(c.device)) received.set(c.device, performance.now());
});

const port = await freePort();
const base = `http://127.0.0.1:${port}/`;
const channels = [{ kind: 'webhook', url: inbox.webhookUrl, secret: SECRET }];
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
        { path: 'pudong/zhangjiang/lane-200', name: '200 弄' },
        ...FLOOD_SITES.map((c) => ({ path: `pudong/zhangjiang/${c}`, name: c })),
      ],
    },
    notify: { timeoutMs: 30_000 },
    escalation: {
      // Default noise control: first notices of major and critical cases are never held by it.
      people: [
        { id: 'duty', name: '值班', site: 'pudong/zhangjiang/lane-100', roles: ['duty'], channels },
        { id: 'duty-200', name: '值班', site: 'pudong/zhangjiang/lane-200', roles: ['duty'], channels },
        {
          id: 'robot-200',
          name: '值班群机器人',
          site: 'pudong/zhangjiang/lane-200',
          roles: ['duty'],
          channels: [{ kind: 'webhook', url: holeUrl, secret: SECRET }],
        },
        ...FLOOD_SITES.map((c) => ({
          id: `duty-${c}`,
          name: '值班',
          site: `pudong/zhangjiang/${c}`,
          roles: ['duty'],
          channels,
        })),
      ],
    },
    log: { level: 'warn' },
  }),
);
const cloud = startDoorstep(['cloud', '--config', join(dir.path, 'cloud.yaml')]);
await cloud.waitFor(/listening on/);

async function post(secret: string, body: object): Promise<void> {
  const res = await fetch(new URL('/v1/sync', base), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${secret}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    },
    body: gzipSync(JSON.stringify(body)),
  });
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

// ── 0. per severity, idle and with one black-holed endpoint ─────────────────────────────────
async function firstNotices(gateway: string, secret: string, site: typeof SITE, n: number) {
  const bySeverity: Record<'critical' | 'major', number[]> = { critical: [], major: [] };
  for (let k = 0; k < n; k++) {
    const severity = k % 2 === 0 ? ('critical' as const) : ('major' as const);
    const type = severity === 'critical' ? 'smoke' : 'gas_low';
    const device = `${gateway}-${type}-${k}`;
    await new Promise((r) => setTimeout(r, 300));
    const ts = Date.now();
    const sent = performance.now();
    await post(secret, {
      v: 1,
      gateway,
      site,
      batchSeq: k + 1,
      sentAt: ts,
      alarms: [
        {
          seq: k + 1,
          transition: {
            id: `${gateway}.${device}.${ts.toString(36)}`,
            gateway,
            device,
            type,
            severity,
            state: 'raised',
            ts,
            test: false,
            latched: severity === 'critical',
            ...(type === 'gas_low' ? { value: 15 } : {}),
          },
        },
      ],
    });
    for (let i = 0; i < 1000 && !received.has(device); i++) await new Promise((r) => setTimeout(r, 10));
    const at = received.get(device);
    bySeverity[severity].push(at === undefined ? 10_000 : at - sent);
  }
  return bySeverity;
}
const idleGw = await enrollGateway(base, ADMIN, { id: 'gw-idle', site: SITE });
const holeGw = await enrollGateway(base, ADMIN, { id: 'gw-hole', site: SITE_HOLE });
const conditions: Record<string, Record<'critical' | 'major', number[]>> = {
  idle: await firstNotices('gw-idle', idleGw.secret, SITE, 40),
  'one endpoint black-holed': await firstNotices('gw-hole', holeGw.secret, SITE_HOLE, 40),
};

// The flood: 100 new alarms within one minute across 10 communities (one gateway each), every
// 600 ms one, without waiting for the notices — they overlap as a real flood does.
{
  const gws = await Promise.all(
    FLOOD_SITES.map(async (c) => ({
      id: `gw-${c}`,
      site: { ...SITE, community: c },
      secret: (await enrollGateway(base, ADMIN, { id: `gw-${c}`, site: { ...SITE, community: c } })).secret,
      batch: 0,
    })),
  );
  const flood: Record<'critical' | 'major', number[]> = { critical: [], major: [] };
  const waits: Promise<void>[] = [];
  for (let k = 0; k < 100; k++) {
    const g = gws[k % gws.length]!;
    const severity = k % 2 === 0 ? ('critical' as const) : ('major' as const);
    const type = severity === 'critical' ? 'smoke' : 'gas_low';
    const device = `${g.id}-${type}-${k}`;
    const ts = Date.now();
    const sent = performance.now();
    g.batch++;
    await post(g.secret, {
      v: 1,
      gateway: g.id,
      site: g.site,
      batchSeq: g.batch,
      sentAt: ts,
      alarms: [
        {
          seq: g.batch,
          transition: {
            id: `${g.id}.${device}.${ts.toString(36)}`,
            gateway: g.id,
            device,
            type,
            severity,
            state: 'raised',
            ts,
            test: false,
            latched: severity === 'critical',
            ...(type === 'gas_low' ? { value: 15 } : {}),
          },
        },
      ],
    });
    waits.push(
      (async () => {
        for (let i = 0; i < 1000 && !received.has(device); i++) await new Promise((r) => setTimeout(r, 10));
        const at = received.get(device);
        flood[severity].push(at === undefined ? 10_000 : at - sent);
      })(),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 600 - (performance.now() - sent))));
  }
  await Promise.all(waits);
  conditions['flood of 100 alarms/min over 10 communities'] = flood;
}
for (const [condition, bySeverity] of Object.entries(conditions))
  for (const [severity, values] of Object.entries(bySeverity)) {
    values.sort((a, b) => a - b);
    console.log(
      `ingest → first notice, ${severity}, ${condition}: p50 ${pct(values, 50).toFixed(0)} ms, p99 ${pct(values, 99).toFixed(0)} ms, max ${values.at(-1)!.toFixed(0)} ms (${values.length} alarms)`,
    );
    report({
      name: `ingest → first notice received, ${severity}, ${condition}, p99`,
      value: pct(values, 99),
      unit: 'ms',
      target: 1000,
      comparator: '<=',
    });
  }

// ── 1. alarm → notification under 10 000 readings/s ─────────────────────────────────────────
const load = await enrollGateway(base, ADMIN, { id: 'gw-load', site: SITE });
const alarmGw = await enrollGateway(base, ADMIN, { id: 'gw-alarm', site: SITE });
let running = true;
let loadSeq = 1;
let loadBatch = 1;
const background = (async () => {
  while (running) {
    const start = performance.now();
    const ts = Date.now();
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      seq: loadSeq + i,
      device: `dev-${i % 500}`,
      point: 'pressure',
      unit: 'MPa',
      value: 0.35 + (i % 9) / 1000,
      quality: 'good' as const,
      ts: ts - (5000 - i),
    }));
    loadSeq += 5000;
    await post(load.secret, {
      v: 1,
      gateway: 'gw-load',
      site: SITE,
      batchSeq: loadBatch++,
      sentAt: ts,
      telemetry: packTelemetry(rows),
    });
    // two batches of 5 000 a second = 10 000 readings/s
    await new Promise((r) => setTimeout(r, Math.max(0, 500 - (performance.now() - start))));
  }
})();
const latencies: number[] = [];
const loadBySeverity: Record<'critical' | 'major', number[]> = { critical: [], major: [] };
for (let n = 0; n < 40; n++) {
  await new Promise((r) => setTimeout(r, 400));
  const severity = n % 2 === 0 ? ('critical' as const) : ('major' as const);
  const type = severity === 'critical' ? 'smoke' : 'gas_low';
  const device = `${type}-${n}`;
  const ts = Date.now();
  const sent = performance.now();
  await post(alarmGw.secret, {
    v: 1,
    gateway: 'gw-alarm',
    site: SITE,
    batchSeq: n + 1,
    sentAt: ts,
    alarms: [
      {
        seq: n + 1,
        transition: {
          id: `gw-alarm.${device}.${type}.${ts.toString(36)}`,
          gateway: 'gw-alarm',
          device,
          type,
          severity,
          state: 'raised',
          ts,
          test: false,
          latched: severity === 'critical',
          ...(type === 'gas_low' ? { value: 15 } : {}),
        },
      },
    ],
  });
  for (let i = 0; i < 200 && !received.has(device); i++) await new Promise((r) => setTimeout(r, 10));
  const at = received.get(device);
  latencies.push(at === undefined ? 10_000 : at - sent);
  loadBySeverity[severity].push(at === undefined ? 10_000 : at - sent);
}
running = false;
await background;
latencies.sort((a, b) => a - b);
for (const [severity, values] of Object.entries(loadBySeverity)) {
  values.sort((a, b) => a - b);
  console.log(
    `ingest → first notice, ${severity}, 10 000 readings/s: p50 ${pct(values, 50).toFixed(0)} ms, p99 ${pct(values, 99).toFixed(0)} ms (${values.length} alarms)`,
  );
  report({
    name: `ingest → first notice received, ${severity}, 10 000 readings/s background ingest, p99`,
    value: pct(values, 99),
    unit: 'ms',
    target: 1000,
    comparator: '<=',
  });
}
console.log(
  `alarm → notification under 10 000 readings/s: p50 ${pct(latencies, 50).toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms (${latencies.length} alarms)`,
);
report({
  name: 'alarm ingested → first notification handed to its channel, p50, with 10 000 readings/s',
  value: pct(latencies, 50),
  unit: 'ms',
  target: 1000,
  comparator: '<=',
});
report({
  name: 'alarm ingested → first notification handed to its channel, p99, with 10 000 readings/s',
  value: pct(latencies, 99),
  unit: 'ms',
  target: 1000,
  comparator: '<=',
});

// ── 2. detector register → notification, through a real gateway ────────────────────────────
const DETECTORS = 8;
const sim = await startSimSite({
  tcp: [
    {
      name: 'lane',
      devices: Array.from({ length: DETECTORS }, (_, i) => ({
        id: `det-${i}`,
        profile: 'smoke-status-register',
        unitId: i + 1,
      })),
    },
  ],
});
const gw = await enrollGateway(base, ADMIN, { id: 'gw-demo', site: SITE });
writeFileSync(join(dir.path, 'gw.secret'), gw.secret);
mkdirSync(join(dir.path, 'gw'), { recursive: true });
const checked = validateGatewayConfig({
  gateway: { id: 'gw-demo', site: SITE },
  buses: [{ id: 'lan', type: 'tcp' }],
  devices: Array.from({ length: DETECTORS }, (_, i) => ({
    id: `det-${i}`,
    bus: 'lan',
    profile: 'smoke-status-register',
    host: '127.0.0.1',
    port: sim.tcp[0]!.port,
    unitId: i + 1,
    location: `${i + 1}号楼`,
  })),
  storage: { dataDir: join(dir.path, 'gw') },
  uplink: { url: base, credentialsFile: join(dir.path, 'gw.secret') },
  health: { port: 0 },
});
if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
const edge = buildEdge(checked.result, {
  extensions: [
    uplinkExtension(
      checked.result.config.uplink!,
      checked.result.config,
      (await import('../../common/log.js')).silentLogger(),
    ),
  ],
});
await edge.start();
await new Promise((r) => setTimeout(r, 3000)); // all online, first sync done
const chain: number[] = [];
for (let i = 0; i < DETECTORS; i++) {
  const device = `det-${i}`;
  const t0 = performance.now();
  sim.devices.get(device)!.set({ smoke: true });
  for (let k = 0; k < 3000 && !received.has(device); k++) await new Promise((r) => setTimeout(r, 10));
  const at = received.get(device);
  chain.push(at === undefined ? 30_000 : at - t0);
  await new Promise((r) => setTimeout(r, 300 + ((i * 389) % 1000))); // not in step with the poll cycle
}
await edge.stop();
await sim.stop();
await cloud.stop('SIGTERM');
for (const s of holeSockets) s.destroy();
await new Promise<void>((resolve) => hole.close(() => resolve()));
await inbox.stop();
dir.dispose();
chain.sort((a, b) => a - b);
console.log(
  `register change → notification received: ${chain.map((c) => (c / 1000).toFixed(1)).join(' ')} s`,
);
report({
  name: 'detector register change → notification received (poll 1 s, uplink, cloud, escalation), worst of 8',
  value: chain.at(-1)! / 1000,
  unit: 's',
  target: 10,
  comparator: '<=',
});
