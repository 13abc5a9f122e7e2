import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../common/log.js';
import { ClockOffsetEstimator, type ResponseInfo, Uplink } from '../../../edge/uplink/index.js';
import { type DownlinkCommand, isDoorstepError, UplinkBatch } from '../../../protocol/index.js';
import { makeUplink, memoryOutbox, reading, SITE, startCloud, T0, VirtualClock } from './helpers.js';

/** A clock that follows real time (offset needs real round trips), shifted so tests can still advance it. */
class RealClock extends VirtualClock {
  override now(): number {
    return Date.now() + super.now();
  }
}

describe('uplink clock offset and downlink', () => {
  it('estimates gateway − cloud from a cloud whose clock runs 90 s ahead, and reports it', async () => {
    const { cloud, baseUrl } = await startCloud();
    cloud.clockSkewMs = 90_000;
    const clock = new RealClock(0);
    const outbox = memoryOutbox(clock);
    const { uplink } = makeUplink(baseUrl, outbox, clock, { healthEveryMs: 1 });
    uplink.start();
    for (let i = 0; i < 4; i++) {
      outbox.put([reading(Date.now())]);
      assert.equal((await uplink.syncNow()).kind, 'acked');
    }
    const stats = uplink.stats();
    assert.equal(stats.clockOffsetSamples, 4);
    // Loopback round trips are a few ms; a generous ±1 s margin still tells 90 s from 0.
    assert.ok(Math.abs(stats.clockOffsetMs! - -90_000) < 1000, `offset ${stats.clockOffsetMs}`);
    const last = UplinkBatch.parse(JSON.parse(cloud.acceptedRequests().at(-1)!.raw));
    assert.ok(Math.abs(last.health!.clockOffsetMs! - -90_000) < 1000, 'sent in the health report');
    assert.equal(stats.lastAppliedOffsetMs, last.health!.clockOffsetMs, 'records what the cloud applied');
  });

  it('the estimator keeps the lowest-RTT sample and rejects huge round trips (RFC 5905 §10)', () => {
    const e = new ClockOffsetEstimator({ window: 4, maxRttMs: 5000 });
    assert.equal(e.offsetMs, undefined);
    assert.ok(e.add(1000, 1400, 500)); // rtt 400 → offset 700
    assert.ok(e.add(2000, 2020, 1510)); // rtt 20 → offset 500
    assert.equal(e.add(3000, 13_000, 0), false, 'rtt 10 s rejected');
    assert.equal(e.offsetMs, 500);
    assert.equal(e.errorBoundMs, 10);
    for (let i = 0; i < 4; i++) e.add(10_000, 10_100, 9_450); // rtt 100 → offset 600; the rtt-20 sample ages out
    assert.equal(e.offsetMs, 600);
    assert.equal(e.rejected, 1);
  });

  it('hands commands to onCommands, new config versions to onConfigVersion, and every response to onResponse', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    const command: DownlinkCommand = {
      id: 'cmd-1',
      kind: 'silence',
      device: 'smoke-1',
      type: 'smoke',
      by: 'duty-officer-3',
      issuedAt: T0,
    };
    cloud.commands = [command];
    cloud.config = { version: 'v7', url: 'https://cloud.example/cfg/v7' };
    const received: DownlinkCommand[][] = [];
    const versions: Array<[string, string | undefined]> = [];
    const infos: ResponseInfo[] = [];
    const { uplink } = makeUplink(baseUrl, outbox, clock, {
      configVersion: 'v6',
      onCommands: (c) => received.push(c),
      onConfigVersion: (v, url) => versions.push([v, url]),
      onResponse: (info) => infos.push(info),
    });
    uplink.start();
    outbox.put([reading(T0)]);
    await uplink.syncNow();
    outbox.put([reading(T0 + 1)]);
    await uplink.syncNow();
    assert.deepEqual(received, [[command]]);
    assert.deepEqual(versions, [['v7', 'https://cloud.example/cfg/v7']], 'once per new version');
    assert.equal(infos.length, 2);
    assert.equal(infos[0]!.outcome, 'acked');
    assert.equal(infos[0]!.status, 200);
    assert.ok(infos[0]!.wireBytes > 0 && infos[0]!.rows === 1);
  });

  it('an idle uplink sends a health-only heartbeat, which also fetches commands', async () => {
    const { cloud, baseUrl } = await startCloud();
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    const received: string[] = [];
    const { uplink, timers } = makeUplink(baseUrl, outbox, clock, {
      heartbeatMs: 30_000,
      intervalMs: 5000,
      healthReport: () => ({ software: 'doorstep-edge 0.1.0', uptimeS: 12 }),
      onCommands: (c) => received.push(...c.map((x) => x.id)),
    });
    uplink.start();
    timers.fire();
    await uplink.settled();
    assert.equal(uplink.stats().batches.heartbeats, 1);
    const hb = UplinkBatch.parse(JSON.parse(cloud.acceptedRequests()[0]!.raw));
    assert.equal(hb.health?.software, 'doorstep-edge 0.1.0');
    assert.deepEqual(hb.alarms, []);
    cloud.commands = [
      { id: 'cmd-2', kind: 'walk_test', device: 'smoke-1', on: true, by: 'installer', issuedAt: T0 },
    ];
    let requests = cloud.requests.length;
    for (let i = 0; i < 5; i++) {
      timers.fire();
      await uplink.settled();
    }
    assert.equal(cloud.requests.length, requests, 'idle polls of the outbox send nothing');
    timers.fire(); // 30 s after the last request
    await uplink.settled();
    requests = cloud.requests.length;
    assert.equal(requests, 2);
    assert.deepEqual(received, ['cmd-2']);
  });

  it('stop() aborts a hanging request at once and keeps the rows', async () => {
    const { cloud, baseUrl } = await startCloud();
    cloud.mode = 'hang';
    const clock = new VirtualClock(T0);
    const outbox = memoryOutbox(clock);
    outbox.put([reading(T0)]);
    const { uplink } = makeUplink(baseUrl, outbox, clock, { requestTimeoutMs: 60_000 });
    uplink.start();
    const step = uplink.syncNow();
    while (cloud.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await uplink.stop();
    await step;
    assert.equal(outbox.stats().totalRows, 1);
    assert.equal(uplink.stats().state, 'stopped');
    await assert.rejects(uplink.syncNow(), (e) => isDoorstepError(e, 'EDGE_ERR_UPLINK_STOPPED'));
  });

  it('rejects bad options with every problem listed', () => {
    const clock = new VirtualClock(T0);
    assert.throws(
      () =>
        new Uplink({
          baseUrl: 'ftp://x',
          gateway: 'GW 1',
          site: SITE,
          credentials: () => 's',
          outbox: memoryOutbox(clock),
          batch: { rows: 0 },
          logger: silentLogger(),
        }),
      (e) => isDoorstepError(e, 'EDGE_ERR_UPLINK_OPTIONS') && /baseUrl.*gateway.*batch\.rows/.test(e.message),
    );
  });
});
