import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOSTILE_EXPECTED, runDistrictSoak } from '../support/district-soak.js';

/**
 * A district's load, held — the short form of test/bench/district-soak.bench.ts (same harness,
 * test/support/district-soak.ts): 36 gateways × 100 devices through two `doorstep cloud` processes
 * on one PostgreSQL for 30 s, an alarm every 1.5 s, the hostile cases of issue 13 beside them.
 * Nothing is timed here (the figures are the benchmark's): the assertions are about what arrives,
 * exactly once, and what is refused.
 */
describe('a district soak, short', () => {
  it('holds the load with no error, no loss, one notice per alarm, and refuses every hostile request', async (t) => {
    const r = await runDistrictSoak({
      gateways: 36,
      devicesPerGateway: 100,
      communitiesPerTown: 12,
      durationMs: 30_000,
      readingPeriodMs: 20_000,
      intervalMs: 5000,
      heartbeatMs: 30_000,
      healthEveryMs: 30_000,
      alarmEveryMs: 1500,
      hostile: {
        signInsPerS: 2,
        farFuturePerS: 2,
        malformedPerS: 2,
        enrollBombPerS: 0.5,
        randomBearerPerS: 2,
        slowBodies: 4,
        slowByteEveryMs: 2000,
      },
      drainMs: 45_000,
      rssEveryMs: 5000,
      durablePostgres: false,
      limitSeconds: 0,
    });
    t.diagnostic(JSON.stringify({ ...r, alarms: { ...r.alarms, latenciesMs: r.alarms.latenciesMs.length } }));
    // the load really ran
    assert.ok(r.readings.offered > 3000, `readings offered: ${r.readings.offered}`);
    assert.ok(r.alarms.injected >= 20, `alarms injected: ${r.alarms.injected}`);
    assert.ok(r.requests.sent > 100, JSON.stringify(r.requests));

    // A request the client gave up on after edge/uplink's 8 s is a matter of time (this machine's
    // load; sign-in hashing sharing libuv's pool with gunzip, issue 13) and is the benchmark's
    // figure; every other failure — an error answer, a reset, an error the cloud logged — is a bug.
    const failures = Object.entries(r.errors).filter(([kind]) => !kind.startsWith('sync timeout'));
    assert.deepEqual(failures, [], 'no request of the legitimate load failed, no cloud error logged');
    assert.equal(r.readings.pendingAtEnd, 0, 'every outbox drained');
    assert.equal(r.readings.acked, r.readings.offered, 'every reading acknowledged');
    assert.equal(r.readings.stored, r.readings.offered, 'every reading stored once, none lost');
    assert.equal(r.alarms.acked, r.alarms.injected, 'every alarm acknowledged');
    assert.equal(r.alarms.stored, r.alarms.injected, 'every alarm transition stored once');
    assert.equal(r.alarms.notified, r.alarms.injected, 'every alarm reached the duty webhook');
    assert.equal(r.alarms.lost, 0);
    assert.equal(r.alarms.duplicates, 0, 'no first notice twice');
    assert.equal(r.alarms.unexpected, 0);

    // every hostile kind ran and got the documented answer, and nothing of it was stored
    for (const kind of Object.keys(HOSTILE_EXPECTED)) {
      const h = r.hostile[kind];
      assert.ok(h && h.sent > 0, `${kind} was sent`);
      assert.equal(h.unexpected, 0, `${kind}: ${JSON.stringify(h.answers)}`);
    }
    assert.equal(r.readings.lostAfterAck, 0);
    assert.deepEqual(r.hostileStored, { readings: 0, events: 0, alarms: 0, devices: 0 });
    assert.equal(r.slowBodies.opened, 4);
    // A slow body either is still waiting or was cut off by the server with a 4xx (or no answer).
    for (const status of Object.keys(r.slowBodies.answers))
      assert.ok(status === 'no answer' || /^4\d\d$/.test(status), `slow body answered ${status}`);
    assert.equal(r.slowBodies.openAtEnd + r.slowBodies.cutByServer, 4);
    for (const instance of r.rss) assert.ok(instance.samples.length >= 3, 'RSS sampled over the run');
  });
});
