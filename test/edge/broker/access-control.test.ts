import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword } from '../../../common/password.js';
import { AccessControl, CONNACK } from '../../../edge/broker/access-control.js';
import { resolveLocalBrokerConfig } from '../../../edge/broker/config.js';
import { filterCovers, topicFilterProblems, topicNameProblems } from '../../../edge/broker/topic-filter.js';
import { FAST_SCRYPT } from './helpers.js';

describe('topic filters (MQTT 3.1.1 §4.7)', () => {
  const cases: [string, string, boolean][] = [
    ['a/b/c', 'a/b/c', true],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['a/#', 'a', true], // §4.7.1.2: "sport/#" matches "sport"
    ['a/#', 'a/b/c', true],
    ['a/#', 'b/c', false],
    ['#', 'a/b', true],
    ['+', 'a/b', false],
    ['a/+', 'a/+', true],
    ['a/+', 'a/#', false], // "#" reaches deeper than "+"
    ['a/b', 'a/+', false],
    ['a/#', 'a/+/c', true],
    ['a/+/+', 'a/#', false],
    ['#', '$SYS/broker', false], // §4.7.2
    ['+/broker', '$SYS/broker', false],
    ['$SYS/#', '$SYS/broker', true],
    ['a//c', 'a//c', true], // empty levels are levels (§4.7.1.1)
    ['a/+/c', 'a//c', true],
  ];
  for (const [allowed, requested, expected] of cases)
    it(`${allowed} ${expected ? 'covers' : 'does not cover'} ${requested}`, () => {
      assert.equal(filterCovers(allowed, requested), expected);
    });

  it('validates filters and names', () => {
    assert.deepEqual(topicFilterProblems('a/#'), []);
    assert.deepEqual(topicFilterProblems('a/#/b'), [
      '"#" must be a whole level and the last one (MQTT 3.1.1 §4.7.1.2)',
    ]);
    assert.deepEqual(topicFilterProblems('a/b+'), ['"+" must be a whole level (MQTT 3.1.1 §4.7.1.3)']);
    assert.deepEqual(topicFilterProblems(''), ['must not be empty (MQTT 3.1.1 §4.7.3)']);
    assert.deepEqual(topicNameProblems('a/+/b'), ['must not contain "+" or "#" (MQTT 3.1.1 §3.3.2.1)']);
  });
});

describe('AccessControl', () => {
  async function control(allowAnonymous = false) {
    const config = resolveLocalBrokerConfig({
      users: [
        {
          username: 'sensor-a',
          passwordHash: await hashPassword('pw-a', FAST_SCRYPT),
          acl: { publish: ['sensors/%u/#'], subscribe: ['doorstep/%g/commands/result'] },
        },
      ],
      allowAnonymous,
      anonymousAcl: { subscribe: ['doorstep/%g/health', 'sensors/%u/#'] },
    });
    return new AccessControl(config, 'gw-7');
  }

  it('answers each refusal with its CONNACK code (MQTT 3.1.1 §3.2.2.3)', async () => {
    const access = await control();
    assert.deepEqual(await access.authenticate('sensor-a', Buffer.from('pw-a')), {
      ok: true,
      username: 'sensor-a',
    });
    assert.equal((await access.authenticate('sensor-a', Buffer.from('nope'))).ok, false);
    const wrong = await access.authenticate('sensor-a', Buffer.from('nope'));
    const unknown = await access.authenticate('ghost', Buffer.from('pw-a'));
    const anonymous = await access.authenticate(undefined, undefined);
    assert.deepEqual(
      [wrong, unknown, anonymous].map((d) => (d.ok ? 0 : d.returnCode)),
      [CONNACK.badUsernameOrPassword, CONNACK.badUsernameOrPassword, CONNACK.notAuthorized],
    );
  });

  it('substitutes %u and %g, and checks publish and subscribe separately', async () => {
    const access = await control();
    assert.equal(access.mayPublish('sensor-a', 'sensors/sensor-a/smoke'), true);
    assert.equal(access.mayPublish('sensor-a', 'sensors/sensor-b/smoke'), false);
    assert.equal(
      access.maySubscribe('sensor-a', 'sensors/sensor-a/smoke'),
      false,
      'publish rights are not subscribe rights',
    );
    assert.equal(access.maySubscribe('sensor-a', 'doorstep/gw-7/commands/result'), true);
    assert.equal(access.maySubscribe('sensor-a', 'doorstep/gw-8/commands/result'), false);
    assert.equal(access.mayPublish('ghost', 'sensors/ghost/x'), false);
    assert.equal(access.mayPublish('sensor-a', '$SYS/sensors/sensor-a/x'), false);
  });

  it('gives anonymous clients only the anonymous ACL, without %u patterns', async () => {
    const access = await control(true);
    assert.deepEqual(await access.authenticate(undefined, undefined), { ok: true, username: undefined });
    assert.equal(access.maySubscribe(undefined, 'doorstep/gw-7/health'), true);
    assert.equal(access.maySubscribe(undefined, 'sensors/#'), false);
    assert.equal(access.maySubscribe(undefined, 'sensors//x'), false);
  });
});
