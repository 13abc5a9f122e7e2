/**
 * A faulty device end to end: a real gateway (`buildEdge` with its uplink) polls doorstep's
 * simulator, whose smoke detector answers every read with Modbus exception 02; the `device_state`
 * event goes through the outbox and the uplink to a real cloud (SQLite), the health API lists it as
 * `faulty` with its reason, and the console (headless Chromium) shows 故障 and the reason in words.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../common/log.js';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import { buildEdge, type Edge } from '../../edge/runtime/gateway.js';
import { uplinkExtension } from '../../edge/runtime/uplink-extension.js';
import { bearer, call, enrollGateway } from '../cloud/http/harness.js';
import { gatewayConfig } from '../edge/runtime/helpers.js';
import { tempDir } from '../support/tmp.js';
import { type ConsoleWorld, startConsoleWorld, USERS } from './harness.js';

describe('a faulty device reaches the cloud and the console', () => {
  const dir = tempDir('doorstep-faulty-e2e-');
  let w: ConsoleWorld;
  let site: RunningSimSite;
  let edge: Edge;

  before(async () => {
    w = await startConsoleWorld();
    site = await startSimSite({
      tcp: [
        {
          name: 'lane',
          devices: [
            { id: 'smoke-stair', profile: 'smoke-status-register', unitId: 1 },
            { id: 'smoke-hall', profile: 'smoke-status-register', unitId: 2 },
          ],
        },
      ],
    });
    site.devices.get('smoke-stair')!.unit.faults.set({ mode: 'exception', exceptionCode: 2 });
    const secret = await enrollGateway(w.url, w.adminToken, 'gw-st', 'pudong/zhangjiang/lane-100');
    const credentialsFile = join(dir.path, 'gateway.secret');
    writeFileSync(credentialsFile, secret, { mode: 0o600 });
    const port = site.tcp[0]!.port;
    const dev = (id: string, unitId: number, location: string) => ({
      id,
      bus: 'lan',
      profile: 'smoke-status-register',
      unitId,
      host: '127.0.0.1',
      port,
      location,
      pollIntervals: { critical: 300, normal: 500, diagnostic: 1000 },
    });
    const config = gatewayConfig({
      gateway: { id: 'gw-st', site: { district: 'pudong', town: 'zhangjiang', community: 'lane-100' } },
      buses: [{ id: 'lan', type: 'tcp', timeoutMs: 500, retries: 0 }],
      devices: [dev('smoke-stair', 1, '3号楼 楼梯间'), dev('smoke-hall', 2, '活动室')],
      storage: { dataDir: dir.path },
      health: { port: 0 },
      uplink: { url: w.url, credentialsFile, intervalMs: 500 },
    });
    const logger = silentLogger();
    edge = buildEdge(config, {
      logger,
      extensions: [uplinkExtension(config.config.uplink!, config.config, logger)],
    });
    await edge.start();
  });

  after(async () => {
    await edge?.stop();
    await site?.stop();
    await w?.stop();
    dir.dispose();
  });

  it('the cloud stores it as faulty with its reason, and the console shows 故障', async () => {
    const deadline = Date.now() + 30_000;
    let rows: { device: string; state: string; reason?: string }[] = [];
    for (;;) {
      const r = await call(w.url, 'GET', '/v1/health/devices?scope=pudong&state=faulty', {
        auth: bearer(w.adminToken),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      rows = r.body.items;
      if (rows.some((d) => d.device === 'smoke-stair')) break;
      if (Date.now() > deadline) throw new Error(`not faulty in the cloud: ${JSON.stringify(rows)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(rows.find((d) => d.device === 'smoke-stair')?.reason, 'DRV_ERR_EXCEPTION');
    assert.ok(!rows.some((d) => d.device === 'smoke-hall'), 'the healthy one is not faulty');

    const { page } = await w.newPage();
    await w.signIn(page, USERS.zjDuty.username);
    await page.click('#nav-sites');
    await page.waitForSelector('#device-rows tr');
    await page.selectOption('#health-filter', 'faulty');
    await page.waitForFunction(() => document.querySelectorAll('#device-rows tr').length === 1);
    const row = (await page.textContent('#device-rows')) ?? '';
    assert.match(row, /gw-st\/smoke-stair/);
    assert.match(row, /故障 · 应答异常码/);
  });
});

declare const document: { querySelectorAll(selector: string): { length: number } };
