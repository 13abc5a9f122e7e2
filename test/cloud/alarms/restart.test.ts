/**
 * Downlink commands are persisted: an ack queued before a restart of the cloud (SQLite file) is
 * still delivered to the gateway after it, and its command_result lands on the case's trail.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteCloudStore } from '../../../cloud/store/sqlite/store.js';
import { tempDir } from '../../support/tmp.js';
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

const LANE = 'pudong/zhangjiang/lane-100';
const dir = tempDir('doorstep-cases-restart-');
const running: TestCloud[] = [];
after(async () => {
  for (const t of running) await t.stop().catch(() => {});
  dir.dispose();
});

async function start(): Promise<TestCloud> {
  const t = await startTestCloud({}, { store: new SqliteCloudStore({ path: join(dir.path, 'cloud.db') }) });
  running.push(t);
  return t;
}

describe('case store across a restart (SQLite file)', () => {
  it('an ack queued before the restart reaches the gateway after it and settles on the trail', async () => {
    let t = await start();
    const admin = await adminToken(t.url);
    const gw = await enrollGateway(t.url, admin, 'gw-r', LANE);
    const duty = await userToken(t.url, admin, {
      username: 'duty-r',
      scope: 'pudong/zhangjiang',
      role: 'duty',
    });
    const sync = (batchSeq: number, extra: Record<string, unknown> = {}) =>
      call(t.url, 'POST', '/v1/sync', {
        auth: bearer(gw),
        json: {
          ...makeBatch({
            gateway: 'gw-r',
            sitePath: LANE,
            batchSeq,
            firstSeq: batchSeq * 10,
            alarms: batchSeq === 1 ? [{ seq: 10, id: 'gw-r-smoke-0001' }] : [],
          }),
          ...extra,
        },
      });
    assert.equal((await sync(1)).status, 200);
    const ack = await call(t.url, 'POST', '/v1/cases/gw-r-smoke-0001/ack', { auth: bearer(duty), json: {} });
    assert.equal(ack.status, 200, JSON.stringify(ack.body));

    await t.stop();
    running.pop();
    t = await start();

    const delivered = await sync(2);
    assert.equal(delivered.status, 200, JSON.stringify(delivered.body));
    const command = delivered.body.commands[0];
    assert.equal(command?.kind, 'ack');
    assert.equal(command?.alarm, 'gw-r-smoke-0001');
    const answered = await sync(3, {
      events: [
        {
          seq: 30,
          ts: t.clock.now,
          event: { kind: 'command_result', id: command.id, command: 'ack', ok: true },
        },
      ],
    });
    assert.deepEqual(answered.body.commands, []);
    const shown = await call(t.url, 'GET', '/v1/cases/gw-r-smoke-0001', { auth: bearer(duty) });
    assert.equal(shown.body.case.acked, true, 'the case itself survived too');
    assert.deepEqual(
      shown.body.audit.map((e: { action: string }) => e.action),
      ['raised', 'ack', 'command_result'],
    );
  });
});
