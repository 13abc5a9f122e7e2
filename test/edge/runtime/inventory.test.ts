import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../common/log.js';
import { MemoryOutbox } from '../../../edge/outbox/memory.js';
import { buildEdge } from '../../../edge/runtime/gateway.js';
import { INVENTORY_MARK, inventoryParts, labelOf, reportInventory } from '../../../edge/runtime/inventory.js';
import { GatewayEvent, type InventoryEvent } from '../../../protocol/index.js';
import { gatewayConfig } from './helpers.js';

/** A gateway configuration with `n` gas detectors on a TCP bus nobody listens on (they stay offline). */
function configWith(n: number, extra: (i: number) => Record<string, unknown> = () => ({})) {
  return gatewayConfig({
    gateway: { id: 'gw-inv', site: { district: 'd1', town: 't1', community: 'c1' } },
    buses: [{ id: 'lan', type: 'tcp', timeoutMs: 100, retries: 0 }],
    devices: Array.from({ length: n }, (_, i) => ({
      id: `gas-${String(i).padStart(4, '0')}`,
      bus: 'lan',
      profile: 'gas-float32-abcd',
      host: '127.0.0.1',
      port: 1000 + i,
      unitId: 1,
      location: `${i} 号 厨房`,
      ...extra(i),
    })),
    storage: { dataDir: '/nonexistent' },
    health: { port: 0 },
  });
}

const inventories = (outbox: MemoryOutbox): InventoryEvent[] =>
  outbox
    .nextBatch({ maxRows: 10_000, maxBytes: 64 * 1024 * 1024 })
    .records.filter((r) => r.class === 'event' && (r.payload as { kind: string }).kind === 'inventory')
    .map((r) => r.payload as InventoryEvent);

describe('device inventory (edge)', () => {
  it('carries every configured field, labels made safe', () => {
    const cfg = configWith(1, () => ({
      location: ' 社区食堂\u202e<b>厨房</b>\n',
      code: 'PD-ZJ-000001',
      building: '3号楼',
      unit: '2单元',
      floor: '1F',
      plan: { x: 0.2, y: 0.7 },
      installedOn: '2024-05-01',
    }));
    const [part] = inventoryParts(cfg.config.devices, 7);
    assert.deepEqual(part, {
      kind: 'inventory',
      generation: 7,
      part: 1,
      parts: 1,
      devices: [
        {
          id: 'gas-0000',
          code: 'PD-ZJ-000001',
          kind: 'gas',
          profile: 'gas-float32-abcd',
          profileVersion: cfg.config.devices[0]!.resolved.version,
          label: '社区食堂 ＜b＞厨房＜/b＞',
          building: '3号楼',
          unit: '2单元',
          floor: '1F',
          plan: { x: 0.2, y: 0.7 },
          installedOn: '2024-05-01',
        },
      ],
    });
    assert.ok(GatewayEvent.safeParse(part).success, 'the cloud accepts what the edge sends');
    assert.equal(labelOf('\u0000\u200b ', 10), undefined);
  });

  it('the configuration refuses a malformed code, plan point or date with its path (the entry is disabled)', () => {
    const cfg = configWith(1, () => ({ code: 'pd<1>', plan: { x: 2, y: 0 }, installedOn: '2024-02-30' }));
    assert.equal(cfg.config.devices.length, 0);
    const paths = cfg.disabled.flatMap((d) => d.issues.map((i) => i.path));
    for (const path of ['devices[0].code', 'devices[0].plan.x', 'devices[0].installedOn'])
      assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
  });

  it('cuts a large inventory into parts of at most 100 devices and 48 KiB, every part valid', () => {
    // The longest texts the configuration allows: 100 such devices are past 48 KiB.
    const cfg = configWith(250, (i) => ({
      location: `${'很长的位置描述'.repeat(16)}${String(i).padStart(8, '0')}`,
      building: '楼'.repeat(32),
      unit: '单'.repeat(32),
      floor: '层'.repeat(16),
      code: `PD-ZJ-${String(i).padStart(6, '0')}`,
    }));
    assert.equal(cfg.config.devices.length, 250);
    const parts = inventoryParts(cfg.config.devices, 1);
    assert.ok(parts.length >= 4, `${parts.length} parts`);
    assert.deepEqual(
      parts.map((p) => [p.part, p.parts]),
      parts.map((_, i) => [i + 1, parts.length]),
    );
    assert.equal(
      parts.reduce((n, p) => n + p.devices.length, 0),
      250,
    );
    for (const p of parts) {
      assert.ok(p.devices.length <= 100);
      assert.ok(Buffer.byteLength(JSON.stringify(p)) < 64 * 1024);
      assert.ok(GatewayEvent.safeParse(p).success);
    }
    assert.deepEqual(inventoryParts([], 3), [
      { kind: 'inventory', generation: 3, part: 1, parts: 1, devices: [] },
    ]);
  });

  it('puts the parts and the new generation in one outbox transaction; generations only grow', () => {
    const outbox = new MemoryOutbox();
    outbox.open();
    const cfg = configWith(3);
    assert.equal(reportInventory(outbox, cfg.config.devices, 1000, silentLogger()), 1);
    assert.equal(reportInventory(outbox, cfg.config.devices, 2000, silentLogger()), 2);
    const sent = inventories(outbox);
    assert.deepEqual(
      sent.map((e) => [e.generation, e.devices.length]),
      [
        [1, 3],
        [2, 3],
      ],
    );
    const mark = outbox.loadSideState(INVENTORY_MARK).find((r) => r.key === INVENTORY_MARK);
    assert.deepEqual(JSON.parse(mark!.value), { generation: 2, at: 2000 });
    outbox.close();
  });

  it('a gateway reports its inventory at start and again after a reload', async () => {
    const outbox = new MemoryOutbox();
    const first = configWith(2);
    const edge = buildEdge(first, { openOutbox: () => outbox, logger: silentLogger() });
    await edge.start();
    try {
      assert.deepEqual(
        inventories(outbox).map((e) => e.devices.map((d) => d.id)),
        [['gas-0000', 'gas-0001']],
      );
      await edge.reload(configWith(1, () => ({ location: '搬到 门卫室' })));
      const after = inventories(outbox);
      assert.equal(after.length, 2);
      assert.deepEqual(
        after[1]!.devices.map((d) => [d.id, d.label]),
        [['gas-0000', '搬到 门卫室']],
      );
      assert.equal(after[1]!.generation, after[0]!.generation + 1);
    } finally {
      await edge.stop();
    }
  });
});
