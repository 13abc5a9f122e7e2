// bench-node-flags: --no-opt --no-sparkplug --optimize-for-size --max-lazy --single-threaded-gc --max-old-space-size=48 --max-semi-space-size=1
/**
 * Readings per second through the gateway's hot path on one core: decode (profiles) → default
 * rule packs (the engine, its state in the outbox's SQLite file through OutboxRuleStateStore, each
 * decision one transaction with its alarm rows, as buildEdge wires it) → report-by-exception →
 * SQLite outbox, 500 devices, evaluated per poll cycle as the gateway does, under the V8 flags the
 * systemd unit runs the gateway with (first line). Target ≥ 100 000 readings/s (eKuiper reports
 * 12 000 msg/s on a Pi 3B+). In the same run, the limit: the same readings through decode and a
 * bare SQLite insert (no rules, no filter), and the ratio between the two.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { getRegisterProfile } from '../../drivers/profiles/catalogue/index.js';
import { decodeBlock, qualityFor } from '../../drivers/profiles/codec.js';
import { encodePoints } from '../../drivers/profiles/encode.js';
import { buildReadPlan } from '../../drivers/profiles/plan.js';
import { normalValues } from '../../drivers/sim/devices.js';
import { validateGatewayConfig } from '../../edge/config/load.js';
import { SqliteOutbox } from '../../edge/outbox/sqlite.js';
import { RuleEngine } from '../../edge/rules/engine/engine.js';
import { OutboxRuleStateStore } from '../../edge/rules/engine/sqlite-store.js';
import { resolveRules, telemetryFilter } from '../../edge/runtime/plan.js';
import type { Reading } from '../../protocol/index.js';
import { tempDir } from '../support/tmp.js';
import { report } from './report.js';

const PROFILES = [
  'smoke-status-register',
  'gas-status-word-int16',
  'gas-float32-cdab',
  'pressure-float32-loop',
  'door-monitor-state',
  'geomagnetic-parking',
  'manhole-tilt',
];
const DEVICES = 500;
const CYCLES = 400;

const dir = tempDir('doorstep-bench-pipeline-');
const devices = Array.from({ length: DEVICES }, (_, i) => {
  const profile = getRegisterProfile(PROFILES[i % PROFILES.length]!);
  return { id: `dev-${i}`, profile, plan: buildReadPlan(profile), values: normalValues(profile) };
});
const checked = validateGatewayConfig({
  gateway: { id: 'gw-bench', site: { district: 'd', town: 't', community: 'c' } },
  buses: [{ id: 'lan', type: 'tcp' }],
  devices: devices.map((d, i) => ({
    id: d.id,
    bus: 'lan',
    profile: d.profile.id,
    host: '127.0.0.1',
    port: 1502,
    unitId: (i % 247) + 1,
    location: 'bench',
    zone: `z${Math.floor(i / 10)}`,
  })),
  storage: { dataDir: dir.path },
});
if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
const config = checked.result.config;

const outbox = new SqliteOutbox({ path: join(dir.path, 'outbox.db'), config: config.outbox });
const engine = new RuleEngine({
  gateway: 'gw-bench',
  devices: resolveRules(config).devices,
  store: new OutboxRuleStateStore(outbox),
});
const filter = telemetryFilter(config);
let transitions = 0;
engine.transitions.subscribe(() => {
  transitions++;
});
outbox.open();
engine.start();

// Raw register values per device and block, as the bus would return them; values drift a little
// every cycle (sensor noise) so rules and the deadband filter do real work.
function rawBlocks(
  d: (typeof devices)[number],
  cycle: number,
): { block: (typeof d.plan)[number]; values: number[] | boolean[] }[] {
  const v = { ...d.values };
  if (typeof v.gas === 'number') v.gas = (cycle % 50) * 0.2;
  if (typeof v.pressure === 'number') v.pressure = 0.35 + ((cycle % 20) - 10) * 0.002;
  if (typeof v.tilt === 'number') v.tilt = 0.4 + (cycle % 3) * 0.1;
  const image = encodePoints(d.profile, v);
  return d.plan.map((block) => {
    const table = image[block.table] as Map<number, number | boolean>;
    const bits = block.table === 'coil' || block.table === 'discrete';
    const values = Array.from(
      { length: block.count },
      (_, i) => table.get(block.address + i) ?? (bits ? false : 0),
    );
    return { block, values: values as number[] | boolean[] };
  });
}
// Pre-compute the raw replies so the benchmark measures the gateway side only.
const replies = Array.from({ length: 20 }, (_, cycle) => devices.map((d) => rawBlocks(d, cycle)));

const flags = new Map<string, Map<string, number | boolean>>();
/** One poll cycle decoded, as the bus scheduler hands it to the engine. */
function decodeCycle(cycle: number, ts: number): Reading[] {
  const batch: Reading[] = [];
  const cycleReplies = replies[cycle % replies.length]!;
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]!;
    const deviceFlags = flags.get(d.id) ?? new Map<string, number | boolean>();
    flags.set(d.id, deviceFlags);
    for (const { block, values } of cycleReplies[i]!) {
      for (const p of decodeBlock(d.profile, block, values, {})) {
        if (d.profile.quality.badWhen.includes(p.point)) deviceFlags.set(p.point, p.value);
        batch.push({
          device: d.id,
          point: p.point,
          value: p.value,
          unit: p.unit,
          quality: qualityFor(d.profile, p.point, deviceFlags),
          ts,
        });
      }
    }
  }
  return batch;
}

let readings = 0;
let sent = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let ts = Date.now();
for (let cycle = 0; cycle < CYCLES; cycle++) {
  ts += 1000;
  const batch = decodeCycle(cycle, ts);
  engine.ingest(batch);
  const toSend = filter.filter(batch);
  if (toSend.length > 0)
    outbox.put(toSend.map((r) => ({ class: 'telemetry' as const, payload: r, ts: r.ts })));
  readings += batch.length;
  sent += toSend.length;
}
const elapsed = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
engine.stop();
outbox.close();

// The limit: the same decode, then every reading inserted as it is into a bare SQLite table, one
// transaction per poll cycle (no rules, no report-by-exception, no outbox bookkeeping).
const bare = new Database(join(dir.path, 'bare.db'));
bare.pragma('journal_mode = WAL');
bare.pragma('synchronous = NORMAL');
bare.exec('CREATE TABLE readings (device TEXT, point TEXT, value TEXT, quality TEXT, ts INTEGER)');
const insert = bare.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, ?)');
const insertAll = bare.transaction((batch: Reading[]) => {
  for (const r of batch) insert.run(r.device, r.point, String(r.value), r.quality, r.ts);
});
let bareReadings = 0;
const t1 = performance.now();
const cpu1 = process.cpuUsage();
for (let cycle = 0; cycle < CYCLES; cycle++) {
  ts += 1000;
  const batch = decodeCycle(cycle, ts);
  insertAll(batch);
  bareReadings += batch.length;
}
const bareElapsed = performance.now() - t1;
const bareCpu = process.cpuUsage(cpu1);
bare.close();
dir.dispose();

// Per second of CPU time of this process: "on one core", and not skewed when other processes
// share the machine (wall-clock figures are printed beside them).
const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;
const rate = (readings * 1000) / cpuMs(cpu);
const limit = (bareReadings * 1000) / cpuMs(bareCpu);
console.log(
  `${readings} readings from ${DEVICES} devices in ${(elapsed / 1000).toFixed(2)} s; ${sent} passed report-by-exception; ${transitions} alarm transitions; CPU ${(((cpu.user + cpu.system) / 1000 / elapsed) * 100).toFixed(0)} % of one core`,
);
console.log(
  `per CPU second: gateway path ${Math.round(rate)} readings/s; limit (decode + bare SQLite insert, no rules) ${Math.round(limit)} readings/s (${(bareElapsed / 1000).toFixed(2)} s wall); the gateway path runs at ${((rate / limit) * 100).toFixed(0)} % of it`,
);
report({
  name: 'readings/s through decode → default rule packs (SQLite rule state with the outbox) → report-by-exception → SQLite outbox (500 devices, one core)',
  value: rate,
  unit: 'readings/s',
  target: 100_000,
  comparator: '>=',
  note: `limit decode + bare SQLite insert ${Math.round(limit)} readings/s, ratio ${(rate / limit).toFixed(2)}`,
});
