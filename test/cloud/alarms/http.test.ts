import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  adminToken,
  bearer,
  call,
  enrollGateway,
  makeBatch,
  startTestCloud,
  type TestCloud,
  userToken,
} from '../http/harness.js';
import { PNG_1PX } from './helpers.js';

const LANE = 'pudong/zhangjiang/lane-100';
const ACTIONS: Array<[string, unknown]> = [
  ['ack', {}],
  ['feedback', { cause: 'test', note: 'walk test' }],
  ['close', {}],
  ['shelve', { reason: 'drill', hours: 1 }],
  ['unshelve', {}],
  ['reset', {}],
  ['silence', {}],
  ['out-of-service', { reason: 'detector replaced' }],
  ['return-to-service', {}],
];

describe('case API over HTTP', () => {
  let t: TestCloud;
  let gw: string;
  const tokens: Record<string, string> = {};
  let seq = 0;
  let batchSeq = 0;

  /** One sync of gw-a with the given alarm transitions and events; returns the response body. */
  const sync = async (
    alarms: Array<{ id: string; state?: 'raised' | 'cleared' | 'reset'; type?: string }> = [],
    events: Array<Record<string, unknown>> = [],
  ) => {
    batchSeq++;
    const base = makeBatch({
      gateway: 'gw-a',
      sitePath: LANE,
      batchSeq,
      firstSeq: seq + 1,
      alarms: alarms.map((a) => ({ ...a, seq: ++seq })),
      ts: t.clock.now,
    });
    const body = { ...base, events: events.map((event) => ({ seq: ++seq, ts: t.clock.now, event })) };
    const r = await call(t.url, 'POST', '/v1/sync', { auth: bearer(gw), json: body });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const as = (who: string, method: 'GET' | 'POST', path: string, json?: unknown) =>
    call(t.url, method, path, {
      auth: bearer(tokens[who]!),
      ...(json !== undefined ? { json } : {}),
      headers: { 'user-agent': `${who}-console/1.0` },
    });

  before(async () => {
    t = await startTestCloud();
    const admin = await adminToken(t.url);
    gw = await enrollGateway(t.url, admin, 'gw-a', LANE);
    await t.store.upsertDevices([
      {
        gateway: 'gw-a',
        id: 'smoke-1',
        site: { district: 'pudong', town: 'zhangjiang', community: 'lane-100' },
        location: '3号楼',
      },
    ]);
    tokens['duty'] = await userToken(t.url, admin, {
      username: 'duty-zj',
      scope: 'pudong/zhangjiang',
      role: 'duty',
    });
    tokens['viewer'] = await userToken(t.url, admin, {
      username: 'viewer-zj',
      scope: 'pudong/zhangjiang',
      role: 'viewer',
    });
    tokens['other'] = await userToken(t.url, admin, {
      username: 'duty-hm',
      scope: 'pudong/huamu',
      role: 'duty',
    });
    tokens['lane200'] = await userToken(t.url, admin, {
      username: 'sup-200',
      scope: 'pudong/zhangjiang/lane-200',
      role: 'supervisor',
    });
    await sync([{ id: 'gw-a-smoke-0001' }, { id: 'gw-a-smoke-0002', type: 'heat' }]);
  });
  after(() => t?.stop());

  it('a synced raise is a case at 预警, listed and shown in scope only', async () => {
    const list = await as('viewer', 'GET', '/v1/cases?open=true&stage=warn');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.items.map((c: { id: string }) => c.id).sort(), [
      'gw-a-smoke-0001',
      'gw-a-smoke-0002',
    ]);
    const c = list.body.items.find((x: { id: string }) => x.id === 'gw-a-smoke-0001');
    assert.equal(c.isa, 'UNACK');
    assert.equal(c.location, '3号楼');
    assert.deepEqual((await as('other', 'GET', '/v1/cases')).body.items, [], 'another town sees nothing');
    assert.deepEqual((await as('lane200', 'GET', '/v1/cases')).body.items, [], 'another community neither');
    const shown = await as('viewer', 'GET', '/v1/cases/gw-a-smoke-0001');
    assert.equal(shown.status, 200);
    assert.equal(shown.body.audit[0].action, 'raised');
    // Out of scope answers exactly like an unknown id (status, code, body), revealing nothing.
    const outside = await as('other', 'GET', '/v1/cases/gw-a-smoke-0001');
    const unknownId = await as('other', 'GET', '/v1/cases/gw-a-smoke-9999');
    assert.equal(outside.status, 404);
    assert.equal(outside.body.error.code, 'CLOUD_ERR_NOT_FOUND');
    assert.deepEqual(
      JSON.parse(JSON.stringify(outside.body).replaceAll('gw-a-smoke-0001', 'ID')),
      JSON.parse(JSON.stringify(unknownId.body).replaceAll('gw-a-smoke-9999', 'ID')),
    );
    const scoped = await as('other', 'GET', '/v1/cases?scope=pudong/zhangjiang');
    assert.equal(scoped.status, 403);
    const missing = await as('viewer', 'GET', '/v1/cases/nope-0000');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'CLOUD_ERR_NOT_FOUND');
    const bad = await as('viewer', 'GET', '/v1/cases?stage=done');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'stage');
  });

  it('every action: 401 without a token, 403 for a viewer (role), 404 outside the scope as for unknown', async () => {
    for (const [action, body] of ACTIONS) {
      const path = `/v1/cases/gw-a-smoke-0002/${action}`;
      const anon = await call(t.url, 'POST', path, { json: body });
      assert.equal(anon.status, 401, action);
      const viewer = await as('viewer', 'POST', path, body);
      assert.equal(viewer.status, 403, action);
      assert.equal(viewer.body.error.code, 'CLOUD_ERR_FORBIDDEN', action);
      const other = await as('other', 'POST', path, body);
      assert.equal(other.status, 404, action);
      assert.equal(other.body.error.code, 'CLOUD_ERR_NOT_FOUND', action);
      const lane200 = await as('lane200', 'POST', path, body);
      assert.equal(lane200.body.error?.code, 'CLOUD_ERR_NOT_FOUND', action);
      const unknown = await as('duty', 'POST', `/v1/cases/nope-0000/${action}`, body);
      assert.equal(unknown.status, 404, action);
    }
    const untouched = await as('duty', 'GET', '/v1/cases/gw-a-smoke-0002');
    assert.deepEqual(
      untouched.body.audit.map((e: { action: string }) => e.action),
      ['raised'],
      'no refused request changed anything',
    );
  });

  it('bad bodies are 400 naming the field', async () => {
    const path = '/v1/cases/gw-a-smoke-0002';
    const cases: Array<[string, unknown, string]> = [
      ['feedback', { cause: 'real' }, 'note'],
      ['feedback', { cause: 'real', note: 'x'.repeat(501) }, 'note'],
      ['feedback', { cause: 'arson?', note: 'x' }, 'cause'],
      ['feedback', { cause: 'real', note: 'x', photo: 'data:image/gif;base64,R0lGOD' }, 'photo'],
      ['feedback', { cause: 'real', note: 'x', photo: 'data:image/png;base64,/9j/4AAQSkZJRg==' }, 'photo'],
      ['shelve', { reason: 'drill', hours: 25 }, 'hours'],
      ['shelve', { hours: 1 }, 'reason'],
      ['shelve', { reason: 'drill' }, 'until'],
      ['shelve', { reason: 'drill', until: t.clock.now + 25 * 3600_000 }, 'until'],
      ['ack', { please: true }, 'please'],
    ];
    for (const [action, body, field] of cases) {
      const r = await as('duty', 'POST', `${path}/${action}`, body);
      assert.equal(r.status, 400, `${action} ${JSON.stringify(body).slice(0, 60)}`);
      assert.equal(r.body.error.code, 'CLOUD_ERR_VALIDATION');
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
  });

  it('closed loop: 409 names each unmet precondition; downlink commands ride sync and settle on the trail', async () => {
    const id = 'gw-a-smoke-0001';
    const close = await as('duty', 'POST', `/v1/cases/${id}/close`, {});
    assert.equal(close.status, 409);
    assert.equal(close.body.error.code, 'CLOUD_ERR_CASE_STATE');
    assert.match(close.body.error.message, /still active.*nobody acknowledged.*no feedback/);

    const acked = await as('duty', 'POST', `/v1/cases/${id}/ack`, {});
    assert.equal(acked.status, 200, JSON.stringify(acked.body));
    assert.equal(acked.body.case.isa, 'ACKED');
    const ackAgain = await as('duty', 'POST', `/v1/cases/${id}/ack`, {});
    assert.equal(ackAgain.status, 409);
    assert.match(ackAgain.body.error.message, /already acknowledged by duty-zj/);

    // The gateway gets the ack (it silences its siren) in its next sync response …
    const first = await sync();
    const ackCommand = first.commands.find((c: { kind: string }) => c.kind === 'ack');
    assert.equal(ackCommand.alarm, id);
    assert.equal(ackCommand.by, 'duty-zj');
    // … clears, stays latched, and the close names exactly that.
    await sync([{ id, state: 'cleared' }]);
    const latched = await as('duty', 'POST', `/v1/cases/${id}/close`, {});
    assert.equal(latched.status, 409);
    assert.match(latched.body.error.message, /latched: reset it first .*; no feedback/);

    const reset = await as('duty', 'POST', `/v1/cases/${id}/reset`, {});
    assert.equal(reset.status, 200);
    const second = await sync();
    const resetCommand = second.commands.find((c: { kind: string }) => c.kind === 'reset');
    assert.ok(resetCommand, JSON.stringify(second.commands));
    // The gateway answers both commands and reports the reset transition.
    const third = await sync(
      [{ id, state: 'reset' }],
      [
        { kind: 'command_result', id: ackCommand.id, command: 'ack', ok: true },
        { kind: 'command_result', id: resetCommand.id, command: 'reset', ok: true },
      ],
    );
    assert.deepEqual(third.commands, [], 'answered commands are no longer sent');

    const feedback = await as('duty', 'POST', `/v1/cases/${id}/feedback`, {
      cause: 'false_alarm',
      note: 'cooking steam',
      photo: PNG_1PX,
    });
    assert.equal(feedback.status, 200, JSON.stringify(feedback.body));
    assert.equal(feedback.body.case.stage, 'feedback');
    const closed = await as('duty', 'POST', `/v1/cases/${id}/close`, {});
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.case.stage, 'closed');
    assert.equal(closed.body.case.isa, 'NORMAL');

    const shown = await as('viewer', 'GET', `/v1/cases/${id}`);
    // biome-ignore lint/suspicious/noExplicitAny: the trail is read field by field
    const audit = shown.body.audit as Array<Record<string, any>>;
    assert.deepEqual(
      audit.map((e) => e.action),
      [
        'raised',
        'ack',
        'latched',
        'reset_requested',
        // One batch: its transitions are applied before its command results.
        'reset',
        'command_result',
        'command_result',
        'feedback',
        'close',
      ],
    );
    const ack = audit[1]!;
    assert.equal(ack.actor.name, 'duty-zj');
    assert.equal(ack.actor.ip, '127.0.0.1');
    assert.equal(ack.actor.userAgent, 'duty-console/1.0');
    assert.deepEqual(ack.before, { acked: false });
    assert.deepEqual(
      audit.filter((e) => e.action === 'command_result').map((e) => [e.detail.kind, e.detail.ok]),
      [
        ['ack', true],
        ['reset', true],
      ],
    );
    const photo = await as('viewer', 'GET', `/v1/cases/${id}/photo`);
    assert.equal(photo.body.photo, PNG_1PX);
    assert.deepEqual(
      (await as('duty', 'GET', '/v1/cases?open=false')).body.items.map((c: { id: string }) => c.id),
      [id],
    );
  });

  it('shelve, silence and out-of-service by duty staff; the OpenAPI document lists the case routes', async () => {
    const id = 'gw-a-smoke-0002';
    const shelved = await as('duty', 'POST', `/v1/cases/${id}/shelve`, { reason: 'drill', hours: 2 });
    assert.equal(shelved.status, 200, JSON.stringify(shelved.body));
    assert.equal(shelved.body.case.shelved.until, t.clock.now + 2 * 3600_000);
    assert.equal((await as('duty', 'POST', `/v1/cases/${id}/unshelve`, {})).status, 200);
    assert.equal((await as('duty', 'POST', `/v1/cases/${id}/unshelve`, {})).status, 409);
    assert.equal((await as('duty', 'POST', `/v1/cases/${id}/silence`, {})).status, 200);
    const oos = await as('duty', 'POST', `/v1/cases/${id}/out-of-service`, { reason: 'detector replaced' });
    assert.equal(oos.body.case.outOfService.reason, 'detector replaced');
    const back = await as('duty', 'POST', `/v1/cases/${id}/return-to-service`, {});
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.case.outOfService, undefined);
    const again = await as('duty', 'POST', `/v1/cases/${id}/return-to-service`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'CLOUD_ERR_CASE_STATE');
    const trail = (await as('duty', 'GET', `/v1/cases/${id}`)).body.audit as Array<{ action: string }>;
    assert.equal(trail.at(-1)?.action, 'return_to_service', 'audited');
    const doc = await call(t.url, 'GET', '/openapi.json');
    for (const path of [
      '/v1/cases',
      '/v1/cases/{id}',
      '/v1/cases/{id}/close',
      '/v1/cases/{id}/out-of-service',
      '/v1/cases/{id}/return-to-service',
    ])
      assert.ok(doc.body.paths[path], path);
    assert.ok(doc.body.paths['/v1/cases/{id}/close'].post.responses['409']);
  });
});
