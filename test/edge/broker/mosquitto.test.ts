import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayCommand } from '../../../edge/broker/commands.js';
import type { GatewayPublisher } from '../../../edge/broker/gateway-publisher.js';
import type { LocalBroker } from '../../../edge/broker/local-broker.js';
import type { AlarmTransition } from '../../../protocol/alarm.js';
import { brokerEvent, GATEWAY, PASSWORDS, Resources, runChild, startBroker } from './helpers.js';

// Debian's mosquitto clients (2.0.x) against the broker: a second, independent MQTT 3.1.1 stack.
// Always async children — a blocking execFileSync here would deadlock this process's broker.
const resources = new Resources();
let broker: LocalBroker;
let publisher: GatewayPublisher;
let port: number;

before(async () => {
  ({ broker, publisher, port } = await startBroker(resources));
});
after(() => resources.dispose());

/** mosquitto_sub that exits after `count` messages, or after 20 s without them (-W) as a safety net. */
function mosquittoSub(clientId: string, user: keyof typeof PASSWORDS, username: string, topic: string) {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-i', clientId, '-u', username, '-P', PASSWORDS[user]];
  return runChild(resources, 'mosquitto_sub', [...args, '-t', topic, '-C', '1', '-q', '1', '-v', '-W', '20']);
}

const alarm: AlarmTransition = {
  id: 'alm-0001-smoke',
  gateway: GATEWAY,
  device: 'smoke-3',
  type: 'smoke',
  severity: 'critical',
  state: 'raised',
  value: true,
  ts: 1_700_000_000_000,
  test: false,
  latched: true,
};

describe('LocalBroker with mosquitto clients', () => {
  it('mosquitto_sub receives an alarm the gateway publishes (QoS 1)', async () => {
    const subscribed = brokerEvent(broker, 'subscribed', (e) => e.clientId === 'watcher-alarms');
    const sub = mosquittoSub('watcher-alarms', 'watcher', 'watcher', `doorstep/${GATEWAY}/alarms/#`);
    await subscribed;
    await publisher.publishAlarm(alarm);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    const [topic, ...rest] = result.stdout.trim().split(' ');
    assert.equal(topic, `doorstep/${GATEWAY}/alarms/smoke-3/smoke`);
    assert.deepEqual(JSON.parse(rest.join(' ')), alarm);
  });

  it('mosquitto_pub with a wrong password fails with a non-zero exit', async () => {
    const pub = runChild(resources, 'mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(port), '-u', 'staff', '-P', 'wrong-password'],
      ...['-t', `doorstep/${GATEWAY}/commands/ack`, '-m', '{}', '-q', '1'],
    ]);
    const result = await pub.done;
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /bad user name or password|not authori[sz]ed/i);
  });

  it('a command sent with mosquitto_pub is handled and its result published', async () => {
    const received: GatewayCommand[] = [];
    resources.add(
      await publisher.onCommand(async (command) => {
        received.push(command);
        return { ok: true };
      }),
    );
    const subscribed = brokerEvent(broker, 'subscribed', (e) => e.clientId === 'staff-results');
    const sub = mosquittoSub('staff-results', 'staff', 'staff', `doorstep/${GATEWAY}/commands/result`);
    await subscribed;
    const body = { device: 'smoke-3', type: 'smoke', by: 'duty-li', requestId: 'req-42' };
    const pub = runChild(resources, 'mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(port), '-i', 'staff-pub', '-u', 'staff', '-P', PASSWORDS.staff],
      ...['-t', `doorstep/${GATEWAY}/commands/ack`, '-m', JSON.stringify(body), '-q', '1'],
    ]);
    const published = await pub.done;
    assert.equal(published.code, 0, published.stderr);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    const payload = result.stdout.trim().slice(`doorstep/${GATEWAY}/commands/result `.length);
    assert.deepEqual(JSON.parse(payload), { requestId: 'req-42', command: 'ack', ok: true });
    assert.deepEqual(received, [{ command: 'ack', ...body }]);
  });

  it('mosquitto_sub receives a retained device status published before it subscribed', async () => {
    const state = {
      device: 'gas-7',
      state: 'offline' as const,
      reason: 'DRV_ERR_TIMEOUT',
      since: 1_700_000_000_000,
      consecutiveFailures: 3,
    };
    await publisher.publishDeviceState(state);
    const sub = mosquittoSub('watcher-status', 'watcher', 'watcher', `doorstep/${GATEWAY}/devices/+/status`);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    const [topic, ...rest] = result.stdout.trim().split(' ');
    assert.equal(topic, `doorstep/${GATEWAY}/devices/gas-7/status`);
    assert.deepEqual(JSON.parse(rest.join(' ')), state);
  });
});
