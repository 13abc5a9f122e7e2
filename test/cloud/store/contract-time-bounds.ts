/**
 * Contract part: the cost of every query that takes a time range is bounded by the data it
 * returns, never by the span of timestamps in the table. One row dated 30 years ahead (stored
 * before the ingest service refused such times, or by a store written to directly) must not make
 * any range query walk the years in between: it once made SQLite's per-device readings query step
 * through ~16 million minutes (≈ 10 s, event loop held) on every device page.
 *
 * Each query's work is read from the database itself (query-cost.ts), not from a clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CloudStore } from '../../../cloud/store/port.js';
import type { ContractContext } from './contract.js';
import { alarm, batch, gateway, readings, site, T0 } from './fixtures.js';
import { measureQueries } from './query-cost.js';

const A = site('pudong', 'zhangjiang', 'lane-100');
const GW = gateway('gw-t', A);
const YEAR = 365.25 * 86_400_000;
/** 30 years ahead, on a minute boundary. */
const FAR = T0 + Math.round((30 * YEAR) / 60_000) * 60_000;

/**
 * The database's own account of a query's work (query-cost.ts), never a time: on PostgreSQL the
 * rows every plan node produced or filtered, times its loops, must stay within WORK_PER_ROW per
 * row returned plus WORK_SLACK (index descents, the dictionary tables, the few hundred rows a
 * scope holds besides). The walk through every minute of 30 years did ~16 million steps.
 * On SQLite no table of readings, alarms or rollups may be scanned: each is searched through an
 * index on its time (or, for the per-series readings, the minutes that hold readings).
 */
const WORK_PER_ROW = 8;
const WORK_SLACK = 30_000;
const BIG_TABLES = /^SCAN (readings|alarm_transitions|rollup_1m|rollup_1h|r|a)\b/;

async function timed<T>(s: CloudStore, what: string, fn: () => Promise<T>): Promise<T> {
  const { result, costs } = await measureQueries(s, fn);
  const returned = Array.isArray(result) ? result.length : 1;
  if (s.handle().kind !== 'memory') assert.ok(costs?.length, `${what}: queries seen`);
  for (const cost of costs ?? []) {
    if (cost.work !== undefined)
      assert.ok(
        cost.work <= WORK_PER_ROW * returned + WORK_SLACK,
        `${what}: ${cost.work} rows of work for ${returned} returned\n${cost.sql}`,
      );
    for (const line of cost.plan ?? [])
      assert.doesNotMatch(line, BIG_TABLES, `${what}: ${line}\n${cost.plan?.join('\n')}\n${cost.sql}`);
  }
  if (process.env['SHOW_QUERY_COST'])
    console.log(what, returned, JSON.stringify(costs?.map((c) => c.work ?? c.plan)));
  return result;
}

/** A day of readings every minute for two devices, one far-future reading and alarm for gas-1. */
async function seed(s: CloudStore): Promise<void> {
  await s.createGateway(GW);
  const rows = Array.from({ length: 1440 }, (_, i) => [
    { seq: 2 * i + 1, device: 'gas-1', point: 'gas', value: i % 7, unit: '%LEL', ts: T0 + i * 60_000 },
    { seq: 2 * i + 2, device: 'gas-2', point: 'gas', value: i % 5, unit: '%LEL', ts: T0 + i * 60_000 },
  ]).flat();
  await s.ingestBatch(
    GW,
    batch('gw-t', A, 1, {
      telemetry: readings([
        ...rows,
        { seq: 5000, device: 'gas-1', point: 'gas', value: 99, unit: '%LEL', ts: FAR },
      ]),
      alarms: [
        { seq: 5001, transition: alarm('gw-t', 'gw-t-smoke-now', 'raised', T0 + 1000) },
        { seq: 5002, transition: alarm('gw-t', 'gw-t-smoke-far', 'raised', FAR) },
      ],
    }),
    { receivedAt: T0 + 86_400_000, offsetMs: 0 },
  );
}

export function timeBoundsContract(ctx: ContractContext): void {
  describe('time bounds: a far-future row costs no query its span', () => {
    it('queryReadings by device and by point, with and without an upper bound', async () => {
      const s = ctx.store();
      await seed(s);
      const from = T0 + 12 * 3600_000;
      const open = await timed(s, 'readings of gas-1 from noon on', () =>
        s.queryReadings('pudong', { gateway: 'gw-t', device: 'gas-1', from, limit: 10_000 }),
      );
      assert.equal(open.length, 720 + 1, 'the day’s second half and the far-future reading');
      assert.equal(open.at(-1)?.cloudTs, FAR);
      const closed = await timed(s, 'readings of gas-1 in 12 h', () =>
        s.queryReadings('pudong', { device: 'gas-1', from, to: from + 12 * 3600_000 }),
      );
      assert.equal(closed.length, 720);
      assert.ok(closed.every((r) => r.device === 'gas-1'));
      const all = await timed(s, 'readings of every device’s gas point', () =>
        s.queryReadings('pudong/zhangjiang', { point: 'gas', from: T0, limit: 10_000 }),
      );
      assert.equal(all.length, 2 * 1440 + 1);
      const before = await timed(s, 'readings of gas-2 up to the far reading', () =>
        s.queryReadings('pudong', { device: 'gas-2', to: FAR + 1 }),
      );
      assert.equal(before.length, 1000, 'default limit');
      const far = await timed(s, 'readings of gas-1 after the day', () =>
        s.queryReadings('pudong', { device: 'gas-1', from: T0 + 86_400_000 }),
      );
      assert.deepEqual(
        far.map((r) => r.cloudTs),
        [FAR],
      );
      const gatewayOnly = await timed(s, 'readings of the gateway', () =>
        s.queryReadings('pudong', { gateway: 'gw-t', from, limit: 10_000 }),
      );
      assert.equal(gatewayOnly.length, 2 * 720 + 1);
    });

    it('queryAlarmTransitions and queryRollups over the same span', async () => {
      const s = ctx.store();
      await seed(s);
      const alarms = await timed(s, 'alarm transitions from T0', () =>
        s.queryAlarmTransitions('pudong', { device: 'smoke-1', from: T0 }),
      );
      assert.deepEqual(
        alarms.map((a) => a.id),
        ['gw-t-smoke-now', 'gw-t-smoke-far'],
      );
      const within = await timed(s, 'alarm transitions of the day', () =>
        s.queryAlarmTransitions('pudong', { from: T0, to: T0 + 86_400_000 }),
      );
      assert.equal(within.length, 1);
      await s.rollup(T0 + 86_400_000);
      for (const resolution of ['1m', '1h'] as const) {
        const buckets = await timed(s, `${resolution} rollups of gas-1`, () =>
          s.queryRollups('pudong', { resolution, device: 'gas-1', from: T0, limit: 10_000 }),
        );
        assert.equal(buckets.at(-1)?.max, 99, `${resolution}: the far bucket is there`);
        assert.equal(buckets.length, resolution === '1m' ? 1441 : 25);
        const day = await timed(s, `${resolution} rollups of the day`, () =>
          s.queryRollups('pudong', {
            resolution,
            point: 'gas',
            from: T0,
            to: T0 + 86_400_000,
            limit: 10_000,
          }),
        );
        assert.equal(day.length, resolution === '1m' ? 2 * 1440 : 2 * 24);
      }
    });
  });
}
