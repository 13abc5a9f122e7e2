/**
 * A community that floods the district board, through the real HTTP service on a SQLite file:
 * 1 100 critical latched alarms from one gateway must not push another community's
 * `fire_confirmed` off the board (the server push of /console/api/events), and what is left out
 * is reported per community. And /console/api/overview stays bounded however many devices a
 * district has.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BOARD_PER_COMMUNITY } from '../../../cloud/alarms/store/port.js';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { packTelemetry } from '../../../protocol/index.js';
import { tempDir } from '../../support/tmp.js';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
} from '../http/harness.js';

const LANE = 'pudong/zhangjiang/lane-100';
const GARDEN = 'pudong/huamu/garden-1';
const FLOOD = 1100;

/** Reads the SSE stream until the first `snapshot` event and returns its data. */
async function snapshot(url: string, token: string, scope?: string) {
  const controller = new AbortController();
  const res = await fetch(`${url}/console/api/events${scope ? `?scope=${encodeURIComponent(scope)}` : ''}`, {
    headers: { authorization: bearer(token) },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before a snapshot: ${text.slice(0, 200)}`);
      text += decoder.decode(value, { stream: true });
      const m = /event: snapshot\ndata: (.*)\n\n/.exec(text);
      // biome-ignore lint/suspicious/noExplicitAny: the pushed JSON is read field by field
      if (m) return JSON.parse(m[1]!) as Record<string, any>;
    }
  } finally {
    controller.abort();
  }
}

describe('a community flooding the district board (SQLite)', () => {
  const dir = tempDir('doorstep-board-');
  let t: TestCloud;
  let admin: string;
  let flood: string;
  let garden: string;
  before(async () => {
    t = await startTestCloud(
      { ingest: { maxDevicesPerGateway: 5000 } },
      { store: new SqliteCloudStore({ path: join(dir.path, 'cloud.db') }) },
    );
    admin = await adminToken(t.url);
    flood = await enrollGateway(t.url, admin, 'gw-flood', LANE);
    garden = await enrollGateway(t.url, admin, 'gw-garden', GARDEN);
  });
  after(async () => {
    await t?.stop();
    dir.dispose();
  });

  it('another community’s fire stays on the board; the flood is counted, not silent', async () => {
    const fire = makeBatch({
      gateway: 'gw-garden',
      sitePath: GARDEN,
      batchSeq: 1,
      firstSeq: 1,
      alarms: [{ seq: 1, id: 'gw-garden-fire-000001', type: 'fire_confirmed', device: 'smoke-7' }],
      ts: t.clock.now - 60_000,
    });
    const r1 = await call(t.url, 'POST', '/v1/sync', { auth: bearer(garden), json: fire, gzip: true });
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    // A minute later (and received later), one gateway raises 1 100 critical latched alarms.
    t.clock.now += 60_000;
    const many = makeBatch({
      gateway: 'gw-flood',
      sitePath: LANE,
      batchSeq: 1,
      firstSeq: 1,
      alarms: Array.from({ length: FLOOD }, (_, i) => ({
        seq: i + 1,
        id: `gw-flood-smoke-${String(i).padStart(6, '0')}`,
        device: `smoke-${i}`,
      })),
    });
    const r2 = await call(t.url, 'POST', '/v1/sync', { auth: bearer(flood), json: many, gzip: true });
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    assert.equal(r2.body.stored.alarms, FLOOD);

    const board = await snapshot(t.url, admin);
    const ids: string[] = board.items.map((c: { id: string }) => c.id);
    assert.ok(ids.includes('gw-garden-fire-000001'), 'the garden’s fire is on the district board');
    assert.equal(ids.filter((id) => id.startsWith('gw-flood-')).length, BOARD_PER_COMMUNITY);
    assert.equal(board.truncated, true);
    assert.deepEqual(board.truncatedBy, { [LANE]: FLOOD - BOARD_PER_COMMUNITY });
    // The town's own board shows its cases the same way, the garden's town nothing truncated.
    const huamu = await snapshot(t.url, admin, 'pudong/huamu');
    assert.deepEqual(
      huamu.items.map((c: { id: string }) => c.id),
      ['gw-garden-fire-000001'],
    );
    assert.deepEqual(huamu.truncatedBy, {});
    assert.equal(huamu.truncated, false);
  });

  it('/console/api/overview stays bounded: counts for everything, a capped device list', async (tc) => {
    // 1 900 more devices on the flood gateway (with the 1 100 from its alarms: 3 000 in the district).
    const rows = Array.from({ length: 1900 }, (_, i) => ({
      seq: 10_000 + i,
      device: `gas-${i}`,
      point: 'gas',
      unit: '%LEL',
      value: 1,
      quality: 'good' as const,
      ts: t.clock.now,
    }));
    const b = makeBatch({ gateway: 'gw-flood', sitePath: LANE, batchSeq: 2, firstSeq: 10_000 });
    b.telemetry = packTelemetry(rows);
    const r = await call(t.url, 'POST', '/v1/sync', { auth: bearer(flood), json: b, gzip: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const res = await fetch(`${t.url}/console/api/overview`, { headers: { authorization: bearer(admin) } });
    const text = await res.text();
    assert.equal(res.status, 200);
    const o = JSON.parse(text);
    const total = 1100 + 1900 + 1; // smoke-0…1099, gas-0…1899, the garden's smoke-7
    assert.equal(o.counts.devices, total);
    assert.equal(o.counts.devicesByState.online, 1900);
    assert.equal(o.counts.gateways, 2);
    assert.equal(o.devices.length, o.limits.devices);
    assert.deepEqual(o.truncated, { devices: total - o.limits.devices });
    assert.ok(text.length < 1_000_000, `overview is ${text.length} bytes`);
    tc.diagnostic(`overview: ${text.length} bytes for ${total} devices`);
    // A community scope lists its own devices (up to the same cap) and counts them.
    const lane = await call(t.url, 'GET', `/console/api/overview?scope=${encodeURIComponent(GARDEN)}`, {
      auth: bearer(admin),
    });
    assert.equal(lane.status, 200);
    assert.equal(lane.body.counts.devices, 1);
    assert.deepEqual(lane.body.truncated, {});
  });
});
