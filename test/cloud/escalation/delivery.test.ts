/**
 * The worker and its deliveries: a slow delivery holds nothing else, a higher tier is never told
 * before the lower tier's 预警 was attempted, the 提醒 timer counts from the delivered 预警, and a
 * delivery still claimed by another sender is never recorded as sent.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  CLAIM_LEASE_MS,
  type DeliveryOptions,
  type DeliveryResult,
  type NotificationRequest,
  type Notifier,
} from '../../../cloud/alarms/contract.js';
import { Policy } from '../../../cloud/escalation/policy.js';
import { FIRST_NOTICE_RETRY_MS, FIRST_NOTICE_RETRY_WINDOW_MS } from '../../../cloud/escalation/worker.js';
import { addressKey, createNotifier } from '../../../cloud/notify/notifier.js';
import { MemoryNotificationStore } from '../../../cloud/notify/store/memory.js';
import { type Receiver, startReceiver } from '../notify/support.js';
import { DIRECTORY, event, MIN, makeCase, RecordingNotifier, rig, T0, VirtualTime } from './support.js';

const open: Receiver[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** Resolves deliveries to the recipients in `held` only when the test says so. */
class HeldNotifier implements Notifier {
  readonly calls: { request: NotificationRequest; at: number }[] = [];
  readonly #waiting = new Map<string, (() => void)[]>();
  constructor(
    private readonly clock: () => number,
    readonly held: Set<string>,
  ) {}
  async deliver(request: NotificationRequest, options?: DeliveryOptions): Promise<DeliveryResult[]> {
    this.calls.push({ request, at: this.clock() });
    const results = await Promise.all(
      request.recipients.map(async (r) => {
        if (this.held.has(r.id))
          await new Promise<void>((resolve) =>
            this.#waiting.set(r.id, [...(this.#waiting.get(r.id) ?? []), resolve]),
          );
        const ok = !this.failing.has(r.id);
        const mine: DeliveryResult[] = [
          { recipient: r.id, channel: 'email', ok, attempts: 1, ...(ok ? {} : { error: 'circuit open' }) },
        ];
        options?.onRecipient?.(r.id, mine);
        return mine;
      }),
    );
    return results.flat();
  }
  /** Recipients whose every channel fails at once (an open circuit). */
  readonly failing = new Set<string>();
  release(id: string): void {
    for (const resolve of this.#waiting.get(id) ?? []) resolve();
    this.#waiting.delete(id);
    this.held.delete(id);
  }
}

const gasLow = (id: string, community = 'lane-100', at = T0) =>
  makeCase({
    id,
    community,
    type: 'gas_low',
    severity: 'major',
    latched: false,
    raisedAt: at,
    updatedAt: at,
  });
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('escalation: deliveries', () => {
  it('a hanging 预警 holds no other case, and the town is not told before it was attempted', {
    timeout: 30_000,
  }, async () => {
    const time = new VirtualTime(T0);
    const held = new HeldNotifier(time.clock, new Set(['wang']));
    const r = await rig({ time, notifier: new RecordingNotifier(time.clock, held) });
    await r.engine.onCaseEvent(event('raised', gasLow('inv-1'), T0));
    time.now = T0 + 500;
    await r.engine.tick(); // wang's 预警 hangs in its channel
    await r.engine.onCaseEvent(event('raised', gasLow('other-1', 'lane-200', T0 + 1_000), T0 + 1_000));
    time.now = T0 + 1_500;
    await r.engine.tick();
    await settle();
    assert.deepEqual(
      held.calls.map((c) => [c.request.id, c.request.recipients.map((x) => x.id), c.at - T0]),
      [
        ['inv-1:2:0:0', ['wang'], 500],
        ['other-1:2:0:0', ['he'], 1_500],
      ],
      'the next case went out on the next tick',
    );
    // 10 min later the 提醒 to the town is due — but the community's 预警 is still in flight.
    time.now = T0 + 11 * MIN;
    await r.engine.tick();
    await settle();
    assert.deepEqual(
      held.calls.filter((c) => c.request.id.startsWith('inv-1')).map((c) => c.request.stage),
      ['warn'],
      'no 提醒 to the town before the community 预警 was attempted',
    );
    held.release('wang'); // delivered at T0 + 11 min
    for (let i = 0; i < 50 && r.engine.inFlight > 0; i++) await settle();
    time.now = T0 + 20 * MIN;
    await r.engine.tick();
    await settle();
    assert.equal(
      held.calls.filter((c) => c.request.stage === 'remind' && c.request.id.startsWith('inv-1')).length,
      0,
      '提醒 counts 10 min from the delivered 预警, not from the raise',
    );
    time.now = T0 + 21 * MIN + 500;
    await r.engine.tick();
    await settle();
    const remind = held.calls.find((c) => c.request.stage === 'remind' && c.request.id.startsWith('inv-1'));
    assert.deepEqual(
      remind?.request.recipients.map((x) => x.id),
      ['zhou'],
    );
    await r.stop();
  });

  it('a recipient whose channels failed hands over to the fallback without waiting for a hanging one', {
    timeout: 30_000,
  }, async () => {
    const time = new VirtualTime(T0);
    const policy = Policy.parse({
      id: 'both-tiers',
      version: 1,
      match: { severities: ['critical'] },
      steps: [
        {
          delayMs: 0,
          condition: 'always',
          stage: 'warn',
          targets: [
            { kind: 'role', role: 'duty', tier: 'community' },
            { kind: 'role', role: 'duty', tier: 'town' },
          ],
        },
      ],
      deliveryFailure: { afterFailedSends: 1, fallback: [{ kind: 'person', id: 'chen' }] },
    });
    // wang's channel hangs; zhou's fails at once (its circuit is open).
    const held = new HeldNotifier(time.clock, new Set(['wang']));
    held.failing.add('zhou');
    const r = await rig({ time, policies: [policy], notifier: new RecordingNotifier(time.clock, held) });
    await r.engine.onCaseEvent(event('raised', makeCase({ id: 'fb-1' }), T0));
    time.now = T0 + 500;
    await r.engine.tick();
    await settle();
    time.now = T0 + 1_000;
    await r.engine.tick();
    await settle();
    assert.deepEqual(
      held.calls.map((c) => [c.request.id, c.request.recipients.map((x) => x.id), c.at - T0]),
      [
        ['fb-1:1:0:0', ['wang', 'zhou'], 500],
        ['fb-1:1:fallback', ['chen'], 1_000],
      ],
      'the fallback went out on the next tick while wang still hangs',
    );
    held.release('wang');
    for (let i = 0; i < 50 && r.engine.inFlight > 0; i++) await settle();
    const row = (await r.store.rows('fb-1')).find((x) => x.id === 'fb-1:1:0:0');
    assert.equal(row?.outcome, 'sent to wang, zhou; failed: zhou');
    await r.stop();
  });

  it('a 预警 that reached nobody (every channel failed, e.g. an open circuit) is tried again until it gets through', {
    timeout: 30_000,
  }, async () => {
    const time = new VirtualTime(T0);
    const held = new HeldNotifier(time.clock, new Set());
    held.failing.add('wang');
    const r = await rig({ time, notifier: new RecordingNotifier(time.clock, held) });
    await r.engine.onCaseEvent(event('raised', gasLow('again-1'), T0));
    await r.advanceTo(T0 + 1_000);
    const row = async () => (await r.store.rows('again-1')).find((x) => x.id === 'again-1:2:0:0');
    assert.equal(held.calls.length, 1, 'tried once');
    assert.equal((await row())?.outcome, undefined, 'not completed as failed');
    held.failing.delete('wang'); // the endpoint is back
    await r.advanceTo(T0 + 1_000 + FIRST_NOTICE_RETRY_MS + 1_000);
    assert.deepEqual(
      held.calls.map((c) => [c.request.id, c.request.stage, c.request.recipients.map((x) => x.id)]),
      [
        ['again-1:2:0:0', 'warn', ['wang']],
        ['again-1:2:0:0', 'warn', ['wang']],
      ],
      'the same 预警, once more',
    );
    assert.equal((await row())?.outcome, 'sent to wang');
    await r.stop();
  });

  it('a 预警 that keeps reaching nobody is retried within its window only, then recorded as failed', {
    timeout: 30_000,
  }, async () => {
    const time = new VirtualTime(T0);
    const held = new HeldNotifier(time.clock, new Set());
    held.failing.add('wang');
    const r = await rig({ time, notifier: new RecordingNotifier(time.clock, held) });
    await r.engine.onCaseEvent(event('raised', gasLow('dead-1'), T0));
    await r.advanceTo(T0 + FIRST_NOTICE_RETRY_WINDOW_MS + 2 * FIRST_NOTICE_RETRY_MS);
    const warns = held.calls.filter((c) => c.request.id === 'dead-1:2:0:0');
    const most = Math.ceil(FIRST_NOTICE_RETRY_WINDOW_MS / FIRST_NOTICE_RETRY_MS) + 1;
    assert.ok(warns.length >= 2 && warns.length <= most, `${warns.length} tries, at most ${most}`);
    const row = (await r.store.rows('dead-1')).find((x) => x.id === 'dead-1:2:0:0');
    assert.equal(row?.outcome, 'sent to wang; failed: wang');
    await r.stop();
  });

  it('a delivery another sender still claims is not recorded as sent; it goes out once the claim lapses', async () => {
    const rx = await startReceiver(() => ({ status: 200 }));
    open.push(rx);
    const time = new VirtualTime(T0);
    const address = { kind: 'webhook' as const, url: `${rx.url}/duty`, secret: 'lease-test-secret' };
    const people = (DIRECTORY.people ?? []).map((p) => (p.id === 'wang' ? { ...p, channels: [address] } : p));
    const store = new MemoryNotificationStore();
    // A dead instance claimed the 预警's delivery just before it died: its lease runs on.
    await store.claim({
      key: { requestId: 'lease-1:2:0:0', recipient: 'wang', addressKey: addressKey(address) },
      channel: 'webhook',
      target: address.url,
      caseIds: ['lease-1'],
      owner: 'dead-instance/1',
      now: T0,
      leaseUntil: T0 + CLAIM_LEASE_MS,
    });
    const notifier = createNotifier({ store, clock: time.clock, timeoutMs: 5_000 });
    const r = await rig({ time, config: { people }, notifier: new RecordingNotifier(time.clock, notifier) });
    await r.engine.onCaseEvent(event('raised', gasLow('lease-1'), T0));
    await r.advanceTo(T0 + 1_000);
    const row = async () => (await r.store.rows('lease-1')).find((x) => x.id === 'lease-1:2:0:0');
    assert.equal((await row())?.outcome, undefined, 'not recorded as sent while another sender holds it');
    assert.equal(rx.requests.length, 0);
    await r.advanceTo(T0 + 500 + CLAIM_LEASE_MS + 1_000);
    assert.equal(rx.requests.length, 1, 'sent once the dead claim lapsed');
    assert.equal((await row())?.outcome, 'sent to wang');
    assert.equal((await store.deliveriesByRequest('lease-1:2:0:0'))[0]?.state, 'delivered');
    await r.stop();
  });

  it('a smoke or gas detector that goes offline is told to its community at once, not in the digest', async () => {
    const kinds = new Map([
      ['det-smoke', 'smoke'],
      ['det-pump', 'water_pressure'],
    ]);
    const r = await rig({ deviceKind: async (c) => kinds.get(c.device) });
    const offline = (id: string, device: string) =>
      makeCase({ id, device, type: 'device_offline', severity: 'minor', latched: false });
    await r.engine.onCaseEvent(event('raised', offline('off-smoke', 'det-smoke'), T0));
    await r.engine.onCaseEvent(event('raised', offline('off-pump', 'det-pump'), T0));
    await r.advanceTo(T0 + 15 * MIN);
    assert.deepEqual(
      r.notifier.timeline(T0).map(([at, stage, who, cases]) => [at * 60, stage, who, cases]),
      [[0.5, 'warn', ['wang'], ['off-smoke']]],
      'the smoke detector to community duty within 15 min; the pump sensor waits for the digest',
    );
    assert.equal((await r.store.getCase('off-pump'))?.policyId, 'minor');
    await r.stop();
  });
});
