import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../common/log.js';
import { ModemConfig } from '../../../edge/modem/config.js';
import type { ModemPort } from '../../../edge/modem/modem.js';
import { ModemTexter } from '../../../edge/modem/texter.js';
import { MemoryOutbox } from '../../../edge/outbox/index.js';
import { DoorstepError } from '../../../protocol/index.js';
import { alarm, ManualScheduler, VirtualClock } from '../outbox/helpers.js';

/**
 * The texter's policy on a virtual clock (fast unit tests; the pty modem and the real process are
 * in modem.test.ts and process.test.ts): rate cap, alarms that travel together, an alarm cleared
 * before its text, an alarm not yet on disk, giving up.
 */
const T0 = Date.UTC(2026, 11, 7, 22, 0, 0);

class FakeModem implements ModemPort {
  readonly sent: Array<{ to: string; text: string }> = [];
  failWith: DoorstepError | undefined;
  async prepare() {
    if (this.failWith) throw this.failWith;
    return { sim: 'READY', registration: 'CREG 1 (home)' };
  }
  async send(to: string, text: string) {
    this.sent.push({ to, text });
    return [1];
  }
  async close() {}
}

function setup(overrides: Record<string, unknown> = {}) {
  const clock = new VirtualClock(T0);
  const outbox = new MemoryOutbox({ clock, scheduler: new ManualScheduler() });
  outbox.open();
  const modem = new FakeModem();
  const config = ModemConfig.parse({
    enabled: true,
    port: '/dev/ttyUSB2',
    dutyNumbers: ['13800138000'],
    ratePerNumber: { max: 1, windowMs: 60_000 },
    ...overrides,
  });
  const texter = new ModemTexter({
    config: { ...config, port: '/dev/ttyUSB2' },
    gatewayName: '网关甲',
    locationOf: (d) => (d === 'smoke-1' ? '1号楼' : d),
    outbox,
    modem,
    logger: silentLogger(),
    now: () => clock.now(),
    tickMs: 3_600_000, // the test ticks by hand
  });
  const raise = (id: string, ts = clock.now()) => {
    const entry = alarm(id, ts);
    outbox.put([entry]);
    texter.watch(entry.payload as never);
    return entry;
  };
  return { clock, outbox, modem, texter, raise };
}

describe('modem texter policy', () => {
  it('caps texts per number; alarms held by the cap go together when the window opens', async () => {
    const { clock, modem, texter, raise } = setup();
    texter.start();
    await texter.tick(); // the first pass (a modem check) runs at start
    raise('a1');
    clock.advance(10_000);
    await texter.tick();
    assert.equal(modem.sent.length, 1);
    raise('a2');
    clock.advance(10_000);
    raise('a3');
    clock.advance(10_000);
    await texter.tick();
    assert.equal(modem.sent.length, 1, 'capped: 1 per minute');
    assert.deepEqual(texter.health().rateLimited, ['+8613800138000']);
    assert.equal(texter.health().due, 2);
    clock.advance(41_000); // a1's text (at +10 s) leaves the one-minute window
    await texter.tick();
    assert.equal(modem.sent.length, 2);
    assert.match(
      modem.sent[1]!.text,
      /^【紧急报警】共2条：1\.1号楼 烟感报警 06:00:10；2\.1号楼 烟感报警 06:00:20。/,
    );
    await texter.stop();
  });

  it('an alarm cleared before its text says so; one acknowledged meanwhile is not texted', async () => {
    const { clock, outbox, modem, texter, raise } = setup({ ratePerNumber: { max: 10, windowMs: 60_000 } });
    texter.start();
    await texter.tick(); // the first pass (a modem check) runs at start
    const a = raise('c1');
    const cleared = alarm('c1', clock.now() + 1000, 'cleared');
    outbox.put([cleared]);
    texter.watch(cleared.payload as never);
    const b = raise('c2');
    // The cloud acknowledges c2 (its raised row leaves the outbox) before the delay.
    const seqs = outbox
      .nextBatch()
      .records.filter(
        (r) => r.class === 'alarm' && r.key === `alarm:${(b.payload as { id: string }).id}:raised`,
      )
      .map((r) => r.seq);
    assert.equal(seqs.length, 1);
    outbox.ack(seqs);
    clock.advance(10_000);
    await texter.tick();
    assert.equal(modem.sent.length, 1);
    assert.match(modem.sent[0]!.text, /（现已恢复）/);
    assert.ok(a);
    await texter.stop();
  });

  it('an alarm not yet on disk when announced (full disk) is still texted', async () => {
    const { clock, modem, texter } = setup();
    texter.start();
    await texter.tick(); // the first pass (a modem check) runs at start
    texter.watch(alarm('u1', clock.now()).payload as never); // announced, never put
    clock.advance(10_000);
    await texter.tick();
    assert.equal(modem.sent.length, 1);
    await texter.stop();
  });

  it('backs off after failures, then gives up an alarm after giveUpAfterMs', async () => {
    const { clock, modem, texter, raise } = setup({
      retry: { minMs: 1000, maxMs: 8000 },
      giveUpAfterMs: 60_000,
    });
    modem.failWith = new DoorstepError('EDGE_ERR_MODEM_NETWORK', { port: 'p', registration: 'CREG 0' });
    texter.start();
    await texter.tick(); // the first pass (a modem check) runs at start
    await texter.tick();
    raise('g1');
    const retries: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      await texter.tick();
      retries.push((texter.health().retryAt ?? clock.now()) - clock.now());
    }
    assert.deepEqual(retries.slice(0, 3), [2000, 4000, 8000], 'doubling from retry.minMs');
    assert.equal(texter.health().state, 'failing');
    assert.equal(texter.health().reason, 'EDGE_ERR_MODEM_NETWORK');
    clock.advance(60_000);
    await texter.tick();
    assert.equal(texter.health().watching, 0, 'given up');
    assert.equal(modem.sent.length, 0);
    await texter.stop();
  });
});
