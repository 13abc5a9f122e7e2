import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UplinkResponse } from '../../../protocol/index.js';
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

describe('cloud sync: exactly once', () => {
  let t: TestCloud;
  let admin: string;
  before(async () => {
    t = await startTestCloud();
    admin = await adminToken(t.url);
  });
  after(() => t?.stop());

  const post = (secret: string, json: unknown, gzip = true) =>
    call(t.url, 'POST', '/v1/sync', { auth: bearer(secret), json, gzip });

  it('stores a gzip batch and answers a valid UplinkResponse with the offset applied', async () => {
    const secret = await enrollGateway(t.url, admin, 'gw-happy', LANE);
    const batch = makeBatch({
      gateway: 'gw-happy',
      sitePath: LANE,
      batchSeq: 1,
      firstSeq: 1,
      readings: 50,
      alarms: [{ seq: 51, id: 'gw-happy-smoke-0001' }],
      clockOffsetMs: 1500,
    });
    const r = await post(secret, batch);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const body = UplinkResponse.parse(r.body);
    assert.equal(body.ackedBatchSeq, 1);
    assert.deepEqual(body.stored, { alarms: 1, events: 0, telemetry: 50 });
    assert.equal(body.appliedOffsetMs, 1500);
    assert.equal(body.serverTime, t.clock.now);
    assert.deepEqual(await t.store.countRecords('gw-happy'), { alarms: 1, events: 0, telemetry: 50 });
    const readings = await t.store.queryReadings(LANE, { gateway: 'gw-happy', limit: 1 });
    assert.equal(readings[0]?.cloudTs, (readings[0]?.ts ?? 0) - 1500);
    // Published to the tier feed by ingest: the alarm, then gateway health. (The case it opened
    // follows as a `case` message once the feed's reader of the case-event log gets to it.)
    const kinds = t.feed.messages
      .filter((m) => m.gateway === 'gw-happy' && m.kind !== 'case')
      .map((m) => m.kind);
    assert.deepEqual(kinds, ['alarm', 'gateway']);
  });

  it('without a clock estimate the offset is 0', async () => {
    const secret = await enrollGateway(t.url, admin, 'gw-nooffset', LANE);
    const r = await post(
      secret,
      makeBatch({ gateway: 'gw-nooffset', sitePath: LANE, batchSeq: 1, firstSeq: 1, readings: 1 }),
    );
    assert.equal(r.body.appliedOffsetMs, 0);
  });

  it('the same batch twice, a replayed older batch and reordered batches store nothing twice', async () => {
    const secret = await enrollGateway(t.url, admin, 'gw-dup', LANE);
    const b = (n: number) =>
      makeBatch({
        gateway: 'gw-dup',
        sitePath: LANE,
        batchSeq: n,
        firstSeq: (n - 1) * 10 + 1,
        readings: 9,
        alarms: [{ seq: n * 10, id: `gw-dup-alarm-${n}` }],
      });
    // Reordered: 2 arrives before 1; then 1; then 2 again (lost response); then 1 replayed.
    for (const [n, alarmsStored] of [
      [2, 1],
      [1, 1],
      [2, 0],
      [1, 0],
      [3, 1],
      [3, 0],
    ] as const) {
      const r = await post(secret, b(n));
      assert.equal(r.status, 200);
      assert.equal(r.body.ackedBatchSeq, n);
      assert.equal(r.body.stored.alarms, alarmsStored, `batch ${n}`);
    }
    assert.deepEqual(await t.store.countRecords('gw-dup'), { alarms: 3, events: 0, telemetry: 27 });
    const alarms = await t.store.queryAlarmTransitions(LANE, { gateway: 'gw-dup' });
    assert.deepEqual(alarms.map((a) => a.id).sort(), ['gw-dup-alarm-1', 'gw-dup-alarm-2', 'gw-dup-alarm-3']);
    const feedAlarms = t.feed.messages.filter((m) => m.gateway === 'gw-dup' && m.kind === 'alarm');
    assert.equal(feedAlarms.length, 3, 'duplicates are not republished');
  });

  it('20 concurrent deliveries of one batch: 0 lost, 0 duplicated, all acknowledged', async () => {
    const secret = await enrollGateway(t.url, admin, 'gw-race', LANE);
    const batch = makeBatch({
      gateway: 'gw-race',
      sitePath: LANE,
      batchSeq: 7,
      firstSeq: 100,
      readings: 200,
      alarms: [{ seq: 300, id: 'gw-race-gas-0001', type: 'gas_high' }],
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(secret, batch)));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.body.ackedBatchSeq, 7);
    }
    const storedTelemetry = answers.reduce((n, a) => n + a.body.stored.telemetry, 0);
    const storedAlarms = answers.reduce((n, a) => n + a.body.stored.alarms, 0);
    assert.equal(storedTelemetry, 200);
    assert.equal(storedAlarms, 1);
    assert.deepEqual(await t.store.countRecords('gw-race'), { alarms: 1, events: 0, telemetry: 200 });
    const readings = await t.store.queryReadings(LANE, { gateway: 'gw-race', limit: 10_000 });
    assert.deepEqual(
      readings.map((r) => r.seq).sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => 100 + i),
    );
  });

  it('delivers queued commands until the gateway reports their command_result', async () => {
    const secret = await enrollGateway(t.url, admin, 'gw-cmd', LANE);
    await t.cloud.services.commands.enqueue('gw-cmd', {
      id: 'cmd-1',
      kind: 'silence',
      device: 'smoke-1',
      type: 'smoke',
      by: 'duty officer',
      issuedAt: t.clock.now,
    });
    const first = await post(
      secret,
      makeBatch({ gateway: 'gw-cmd', sitePath: LANE, batchSeq: 1, firstSeq: 1 }),
    );
    assert.deepEqual(
      first.body.commands.map((c: { id: string }) => c.id),
      ['cmd-1'],
    );
    const again = await post(
      secret,
      makeBatch({ gateway: 'gw-cmd', sitePath: LANE, batchSeq: 2, firstSeq: 2 }),
    );
    assert.equal(again.body.commands.length, 1, 'redelivered until answered');
    const answered = {
      ...makeBatch({ gateway: 'gw-cmd', sitePath: LANE, batchSeq: 3, firstSeq: 3 }),
      events: [
        {
          seq: 3,
          ts: t.clock.now,
          event: { kind: 'command_result', id: 'cmd-1', command: 'reset', ok: true },
        },
      ],
    };
    const done = await post(secret, answered);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(done.body.commands, []);
    // Another gateway cannot settle gw-cmd's commands.
    await t.cloud.services.commands.enqueue('gw-cmd', {
      id: 'cmd-2',
      kind: 'reset',
      device: 'smoke-1',
      by: 'duty officer',
      issuedAt: t.clock.now,
    });
    const other = await enrollGateway(t.url, admin, 'gw-cmd-other', LANE);
    await post(other, {
      ...makeBatch({ gateway: 'gw-cmd-other', sitePath: LANE, batchSeq: 1, firstSeq: 1 }),
      events: [{ seq: 1, ts: t.clock.now, event: { kind: 'command_result', id: 'cmd-2', command: 'reset' } }],
    });
    assert.equal((await t.cloud.services.commands.pendingFor('gw-cmd')).length, 1);
  });

  it('counts batches, readings, alarms and duplicates in /metrics', async () => {
    const r = await fetch(`${t.url}/metrics`);
    const text = await r.text();
    assert.match(text, /doorstep_cloud_ingest_batches_total\{result="stored"\} \d+/);
    assert.match(text, /doorstep_cloud_ingest_batches_total\{result="duplicate"\} \d+/);
    assert.match(text, /doorstep_cloud_ingest_duplicates_total\{class="telemetry"\} \d+/);
    assert.match(text, /doorstep_cloud_ingest_alarms_total \d+/);
    assert.match(text, /doorstep_cloud_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/sync"/);
  });
});
