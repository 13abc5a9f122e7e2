// Bytes on the wire per reading after gzip, for telemetry shaped like a real site: 500 devices ×
// 4 points (gas, water pressure, smoke, door families, each with battery/signal diagnostics),
// polled every 10 s with one Modbus transaction per device (~20 ms apart, so a device's points
// share a ts), values with sensor noise at their register resolution (0.1 %LEL, 0.001 MPa, 1 dBm).
// The rows go through the real path: MemoryOutbox.nextBatch(newest-first) → buildBatch
// (checkRecords, packTelemetry columns) → JSON → gzip. Target (brief): ≤ 16 bytes/reading. Health is left out
// (it rides at most every 30 s, ~300 bytes gzip).
import { performance } from 'node:perf_hooks';
import { MemoryOutbox } from '../../edge/outbox/memory.js';
import type { OutboxEntry } from '../../edge/outbox/types.js';
import { buildBatch, checkRecords, encodeBatch } from '../../edge/uplink/batch.js';
import type { Reading } from '../../protocol/index.js';
import { report } from './report.js';

const TARGET_BYTES_PER_READING = 16;
const DEVICES = 500;
const POLL_MS = 10_000;
const T0 = 1_700_000_000_000;
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

/** Deterministic noise (mulberry32), so runs are comparable. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(42);
const noise = (amplitude: number) => (random() * 2 - 1) * amplitude;
const round = (v: number, step: number) => Math.round(v / step) * step;
const fix = (v: number, digits: number) => Number(v.toFixed(digits));

type Kind = 'gas' | 'pressure' | 'smoke' | 'door';
const kinds: Kind[] = ['gas', 'pressure', 'smoke', 'door'];
const battery = Array.from({ length: DEVICES }, () => 60 + Math.floor(random() * 40));
const signal = Array.from({ length: DEVICES }, () => -60 - Math.floor(random() * 30));
const base = Array.from({ length: DEVICES }, () => random());

function deviceReadings(d: number, ts: number): Reading[] {
  const kind = kinds[d % 4]!;
  const device = `${kind}-${String(d).padStart(3, '0')}`;
  const r = (point: string, value: number | boolean, unit: string): Reading => ({
    device,
    point,
    value,
    unit,
    quality: 'good',
    ts,
  });
  const diag = [r('battery', battery[d]!, '%'), r('signal', signal[d]! + Math.round(noise(2)), 'dBm')];
  switch (kind) {
    case 'gas':
      return [
        r('gas', fix(Math.max(0, round(base[d]! * 3 + noise(0.3), 0.1)), 1), '%LEL'),
        r('gas_al1', false, ''),
        ...diag,
      ];
    case 'pressure':
      return [
        r('pressure', fix(round(0.25 + base[d]! * 0.2 + noise(0.004), 0.001), 3), 'MPa'),
        r('fault', false, ''),
        ...diag,
      ];
    case 'smoke':
      return [r('smoke', false, ''), r('tamper', false, ''), ...diag];
    default:
      return [r('door_open', random() < 0.05, ''), r('tamper', false, ''), ...diag];
  }
}

function fill(outbox: MemoryOutbox, readings: number): void {
  let cycle = 0;
  let total = 0;
  while (total < readings) {
    const entries: OutboxEntry[] = [];
    for (let d = 0; d < DEVICES && total < readings; d++) {
      const ts = T0 + cycle * POLL_MS + d * 20 + Math.round(random() * 3);
      for (const payload of deviceReadings(d, ts)) entries.push({ class: 'telemetry', ts, payload });
      total += 4;
    }
    outbox.put(entries);
    cycle++;
  }
}

async function measure(
  batchSize: number,
): Promise<{ bytesPerReading: number; rawPerReading: number; ms: number }> {
  const outbox = new MemoryOutbox();
  outbox.open();
  fill(outbox, batchSize * 4);
  let wire = 0;
  let raw = 0;
  let rows = 0;
  let ms = 0;
  let batchSeq = 1;
  for (;;) {
    const next = outbox.nextBatch({
      maxRows: batchSize,
      maxBytes: 64 * 1024 * 1024,
      telemetryOrder: 'newest-first',
    });
    if (next.records.length === 0) break;
    const start = performance.now();
    const { sendable } = checkRecords(next.records, 'gw-1');
    const encoded = await encodeBatch(
      buildBatch({ gateway: 'gw-1', site: SITE, batchSeq: batchSeq++, sentAt: T0, records: sendable }),
    );
    ms += performance.now() - start;
    wire += encoded.body.length;
    raw += encoded.rawBytes;
    rows += next.records.length;
    outbox.ack(next.seqs);
  }
  outbox.close();
  const batches = batchSeq - 1;
  return { bytesPerReading: wire / rows, rawPerReading: raw / rows, ms: ms / batches };
}

for (const size of [500, 1000, 2000, 3000, 5000]) {
  const m = await measure(size);
  const line = `raw JSON ${m.rawPerReading.toFixed(1)} B/reading, check+build+gzip ${m.ms.toFixed(1)} ms/batch`;
  if (size >= 2000)
    report({
      name: `uplink wire bytes per reading, batches of ${size}`,
      value: m.bytesPerReading,
      unit: 'B/reading',
      target: TARGET_BYTES_PER_READING,
      comparator: '<=',
      note: line,
    });
  else
    console.log(
      `info uplink wire bytes per reading, batches of ${size}: ${m.bytesPerReading.toFixed(2)} B/reading — ${line}`,
    );
}
