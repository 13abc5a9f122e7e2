import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { CommandOutcome, CommandResult, GatewayCommand } from '../../../edge/broker/commands.js';
import { parseCommand } from '../../../edge/broker/commands.js';
import { DoorstepError } from '../../../protocol/errors.js';
import {
  collect,
  connectClient,
  GATEWAY,
  PASSWORDS,
  Resources,
  startBroker,
  subscribeGranted,
} from './helpers.js';

const resources = new Resources();
const received: GatewayCommand[] = [];
let answer: (command: GatewayCommand) => Promise<CommandOutcome> = async () => ({ ok: true });
let staff: MqttClient;
let results: ReturnType<typeof collect>;
let port: number;

before(async () => {
  const started = await startBroker(resources);
  port = started.port;
  resources.add(
    await started.publisher.onCommand(async (command) => {
      received.push(command);
      return answer(command);
    }),
  );
  staff = await connectClient(resources, port, { username: 'staff', password: PASSWORDS.staff });
  results = collect(staff);
  await subscribeGranted(staff, [`doorstep/${GATEWAY}/commands/result`]);
});
after(() => resources.dispose());

/** Sends one command as local staff would and returns the result the gateway published for it. */
async function send(
  command: string,
  body: unknown,
  options: { retain?: boolean } = {},
): Promise<CommandResult> {
  const expected = results.messages.length + 1;
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  await staff.publishAsync(`doorstep/${GATEWAY}/commands/${command}`, payload, {
    qos: 1,
    retain: options.retain ?? false,
  });
  await results.next(expected);
  return JSON.parse(results.messages[expected - 1]?.payload ?? 'null') as CommandResult;
}

describe('commands over MQTT', () => {
  it('hands a valid command to the handler and publishes ok with the requestId', async () => {
    const before = received.length;
    const result = await send('walk_test', {
      device: 'smoke-3',
      on: true,
      by: 'installer-wang',
      requestId: 'r-1',
    });
    assert.deepEqual(result, { requestId: 'r-1', command: 'walk_test', ok: true });
    assert.deepEqual(received.slice(before), [
      { command: 'walk_test', device: 'smoke-3', on: true, by: 'installer-wang', requestId: 'r-1' },
    ]);
  });

  const invalid: [string, string, unknown, RegExp, string][] = [
    ['a missing field', 'walk_test', { device: 'smoke-3', by: 'li', requestId: 'r-2' }, /\bon\b/, 'on'],
    [
      'a field of the wrong type',
      'walk_test',
      { device: 'smoke-3', on: 'yes', by: 'li', requestId: 'r-3' },
      /\bon\b/,
      'on',
    ],
    [
      'reset without an alarm type',
      'reset',
      { device: 'smoke-3', by: 'li', requestId: 'r-4' },
      /\btype\b/,
      'type',
    ],
    [
      'an unknown field (a typo)',
      'walk_test',
      { device: 'smoke-3', of: false, on: true, by: 'li', requestId: 'r-5' },
      /\bof\b/,
      'of',
    ],
    [
      'a device id that is not a slug',
      'ack',
      { device: 'Smoke 3', by: 'li', requestId: 'r-6' },
      /\bdevice\b/,
      'device',
    ],
    ['an empty "by"', 'silence', { device: 'smoke-3', by: '  ', requestId: 'r-7' }, /\bby\b/, 'by'],
  ];
  for (const [what, command, body, names, path] of invalid) {
    it(`refuses ${what} with ok:false naming the field, without calling the handler`, async () => {
      const before = received.length;
      const result = await send(command, body);
      assert.equal(result.ok, false);
      assert.equal(result.code, 'EDGE_ERR_BROKER_COMMAND');
      assert.match(result.error ?? '', names);
      assert.ok(
        result.issues?.some((issue) => issue.path === path),
        JSON.stringify(result.issues),
      );
      assert.equal(result.requestId, (body as { requestId: string }).requestId);
      assert.equal(received.length, before, 'the handler was not called');
    });
  }

  it('refuses a payload that is not JSON', async () => {
    const before = received.length;
    const result = await send('ack', '{device: smoke-3');
    assert.equal(result.ok, false);
    assert.equal(result.requestId, null);
    assert.match(result.error ?? '', /not valid JSON/);
    assert.equal(received.length, before);
  });

  it('refuses an unknown command by name', async () => {
    const before = received.length;
    const result = await send('reboot', { device: 'smoke-3', by: 'li', requestId: 'r-8' });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /unknown command "reboot"/);
    assert.equal(received.length, before);
  });

  it('reports a handler failure with its catalogue code', async () => {
    answer = async () => {
      throw new DoorstepError('EDGE_ERR_RULE_RESET', {
        type: 'smoke',
        device: 'smoke-3',
        reason: 'the condition is still active',
      });
    };
    try {
      const result = await send('reset', { device: 'smoke-3', type: 'smoke', by: 'li', requestId: 'r-9' });
      assert.equal(result.ok, false);
      assert.equal(result.code, 'EDGE_ERR_RULE_RESET');
      assert.match(result.error ?? '', /still active/);
      answer = async () => ({ ok: false, error: 'siren not fitted' });
      const refused = await send('silence', { device: 'smoke-3', by: 'li', requestId: 'r-10' });
      assert.deepEqual(refused, {
        requestId: 'r-10',
        command: 'silence',
        ok: false,
        error: 'siren not fitted',
      });
    } finally {
      answer = async () => ({ ok: true });
    }
  });

  it('never retains a command, so a later subscriber cannot replay it (MQTT 3.1.1 §3.3.1.3)', async () => {
    const result = await send(
      'walk_test',
      { device: 'smoke-3', on: true, by: 'li', requestId: 'r-11' },
      { retain: true },
    );
    assert.equal(result.ok, true);
    const late = await connectClient(resources, port, { username: 'staff', password: PASSWORDS.staff });
    const inbox = collect(late);
    await subscribeGranted(late, [`doorstep/${GATEWAY}/commands/+`]);
    await staff.publishAsync(`doorstep/${GATEWAY}/commands/silence`, 'marker', { qos: 1 });
    await inbox.next(1);
    assert.equal(
      inbox.messages[0]?.payload,
      'marker',
      'the first message is the live marker, not a retained command',
    );
  });
});

describe('parseCommand', () => {
  it('accepts each command with its own fields', () => {
    for (const [name, body] of [
      ['ack', { device: 'd1', by: 'x' }],
      ['ack', { device: 'd1', type: 'smoke', by: 'x' }],
      ['silence', { device: 'd1', by: 'x' }],
      ['reset', { device: 'd1', type: 'gas_high', by: 'x' }],
      ['walk_test', { device: 'd1', on: false, by: 'x', requestId: 'q' }],
    ] as const) {
      const parsed = parseCommand(name, JSON.stringify(body));
      assert.ok(parsed.ok, `${name} ${JSON.stringify(body)}`);
      assert.deepEqual(parsed.command, { command: name, ...body });
    }
  });

  it('refuses walk_test with a type, which it does not take', () => {
    const parsed = parseCommand(
      'walk_test',
      JSON.stringify({ device: 'd1', on: true, type: 'smoke', by: 'x' }),
    );
    assert.ok(!parsed.ok);
    assert.deepEqual(
      parsed.result.issues?.map((i) => i.path),
      ['type'],
    );
  });
});
