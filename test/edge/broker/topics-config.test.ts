import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveLocalBrokerConfig } from '../../../edge/broker/config.js';
import { LocalBroker } from '../../../edge/broker/local-broker.js';
import {
  activeAlarmTopic,
  alarmTopic,
  commandResultTopic,
  commandTopic,
  deviceStatusTopic,
  healthTopic,
  parseTopic,
  readingTopic,
} from '../../../edge/broker/topics.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { Resources, startBroker } from './helpers.js';

describe('topic tree', () => {
  it('builds every topic under doorstep/<gateway> and parses it back', () => {
    const built: [string, unknown][] = [
      [
        readingTopic('gw1', 'gas-2', 'gas'),
        { kind: 'reading', gateway: 'gw1', device: 'gas-2', point: 'gas' },
      ],
      [
        alarmTopic('gw1', 'gas-2', 'gas_high'),
        { kind: 'alarm', gateway: 'gw1', device: 'gas-2', type: 'gas_high' },
      ],
      [
        activeAlarmTopic('gw1', 'gas-2', 'gas_high'),
        { kind: 'active_alarm', gateway: 'gw1', device: 'gas-2', type: 'gas_high' },
      ],
      [deviceStatusTopic('gw1', 'gas-2'), { kind: 'device_status', gateway: 'gw1', device: 'gas-2' }],
      [healthTopic('gw1'), { kind: 'health', gateway: 'gw1' }],
      [commandTopic('gw1', 'walk_test'), { kind: 'command', gateway: 'gw1', command: 'walk_test' }],
      [commandResultTopic('gw1'), { kind: 'command_result', gateway: 'gw1' }],
    ];
    assert.deepEqual(
      built.map(([topic]) => topic),
      [
        'doorstep/gw1/readings/gas-2/gas',
        'doorstep/gw1/alarms/gas-2/gas_high',
        'doorstep/gw1/alarms/active/gas-2/gas_high',
        'doorstep/gw1/devices/gas-2/status',
        'doorstep/gw1/health',
        'doorstep/gw1/commands/walk_test',
        'doorstep/gw1/commands/result',
      ],
    );
    for (const [topic, parsed] of built) assert.deepEqual(parseTopic(topic), parsed, topic);
    assert.deepEqual(parseTopic('sensors/lane-3/smoke'), { kind: 'sensor', path: ['lane-3', 'smoke'] });
    assert.equal(parseTopic('doorstep/gw1/readings/gas-2'), undefined);
    assert.equal(parseTopic('elsewhere/gw1/health'), undefined);
  });

  it('refuses ids that would change the topic structure', () => {
    for (const build of [
      () => readingTopic('gw1', 'gas/2', 'gas'),
      () => alarmTopic('gw1', '+', 'smoke'),
      () => deviceStatusTopic('gw1', '#'),
      () => healthTopic(''),
    ])
      assert.throws(build, (e: unknown) => isDoorstepError(e, 'EDGE_ERR_BROKER_TOPIC'));
  });
});

describe('broker configuration', () => {
  it('fills safe defaults: loopback only, no anonymous clients', () => {
    const config = resolveLocalBrokerConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.allowAnonymous, false);
    assert.equal(config.limits.maxConnections, 64);
    assert.ok(Object.isFrozen(config.limits));
  });

  it('lists every problem with its path', () => {
    assert.throws(
      () =>
        resolveLocalBrokerConfig({
          port: 70000,
          users: [
            { username: 'a/b', passwordHash: 'plain', acl: { publish: ['x/#/y'] } },
            { username: 'ok', passwordHash: 'scrypt$1024$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==' },
            { username: 'ok', passwordHash: 'scrypt$1024$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==' },
            {
              username: 'other',
              clientIdPrefix: 'ok',
              passwordHash: 'scrypt$1024$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==',
            },
          ],
          limits: { maxPayloadBytes: 1024 * 1024, clientBufferBytes: 1024 * 1024 },
        }),
      (e: unknown) =>
        isDoorstepError(e, 'CFG_ERR_INVALID') &&
        [
          'broker.port',
          'broker.users[0].username',
          'broker.users[0].passwordHash',
          'broker.users[0].acl.publish[0]',
          'broker.users[2].username: duplicate',
          'broker.users[3].clientIdPrefix: client id prefix "ok" is already user "ok"',
          'broker.limits.clientBufferBytes',
        ].every((path) => e.message.includes(path)),
    );
  });

  it('refuses a gateway id that is not a slug, before any I/O', () => {
    assert.throws(
      () => new LocalBroker({ gatewayId: 'GW 1', config: {} }),
      (e: unknown) => isDoorstepError(e, 'CFG_ERR_INVALID'),
    );
  });

  it('reports a port already in use with EDGE_ERR_BROKER_LISTEN, and needs start() before publishing', async () => {
    const resources = new Resources();
    try {
      const { port } = await startBroker(resources);
      const second = new LocalBroker({ gatewayId: 'gw1', config: { host: '127.0.0.1', port } });
      await assert.rejects(second.start(), (e: unknown) => isDoorstepError(e, 'EDGE_ERR_BROKER_LISTEN'));
      await assert.rejects(second.publish({ topic: 'a', payload: '' }), (e: unknown) =>
        isDoorstepError(e, 'EDGE_ERR_BROKER_STATE'),
      );
      assert.throws(
        () => second.address(),
        (e: unknown) => isDoorstepError(e, 'EDGE_ERR_BROKER_STATE'),
      );
    } finally {
      await resources.dispose();
    }
  });
});
