import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SerialLink } from '../../../drivers/link/serial.js';
import type { SerialSettings } from '../../../drivers/link/types.js';
import { RtuSlave } from '../../../drivers/sim/index.js';
import { openPtyPair } from '../../support/pty.js';
import {
  catalogueDevices,
  LATE_FACTORS,
  runLateFactor,
  SMOKE_DEVICE,
  summary,
} from './late-replies-harness.js';

const TIMEOUT_MS = 30;
const SERIAL: SerialSettings = { baudRate: 115200, parity: 'none', dataBits: 8, stopBits: 1 };

describe('late replies from doorstep’s simulator over a real pty: never believed, counted, reported', () => {
  it(`every built-in profile, answering at ${LATE_FACTORS.join(', ')} × the ${TIMEOUT_MS} ms timeout: 0 wrong readings, 0 alarms`, async (t) => {
    const pty = await openPtyPair();
    after(() => pty.close());
    const devices = catalogueDevices();
    const slave = new RtuSlave({
      link: new SerialLink({ path: pty.b, ...SERIAL }),
      units: devices.map((d) => d.unit),
    });
    await slave.start();
    after(() => slave.stop());
    for (const factor of LATE_FACTORS) {
      const delayMs = factor * TIMEOUT_MS;
      // The smoke detector of the issue answers late often; every other device now and then.
      for (const d of devices)
        d.unit.faults.set({ mode: 'slow', delayMs, probability: d.id === SMOKE_DEVICE ? 0.3 : 0.04 });
      const injectedBefore = devices.reduce((n, d) => n + d.unit.faults.injected.slow, 0);
      const run = await runLateFactor({
        factor,
        path: pty.a,
        serial: SERIAL,
        devices,
        timeoutMs: TIMEOUT_MS,
        minTransactions: 1000,
        limitMs: 120_000,
      });
      const injected = devices.reduce((n, d) => n + d.unit.faults.injected.slow, 0) - injectedBefore;
      t.diagnostic(`${summary(run)}; ${injected} late replies injected`);
      assert.deepEqual(run.wrong.slice(0, 5), [], `${factor}×: wrong readings`);
      assert.deepEqual(run.alarms.slice(0, 5), [], `${factor}×: alarms`);
      assert.ok(run.stats.transactions >= 1000);
      assert.ok(run.readings >= 500, `${factor}×: ${run.readings} readings`);
      assert.ok(
        run.stats.lateReplies >= Math.min(20, injected / 2),
        `${factor}×: ${run.stats.lateReplies} of ${injected} late replies counted`,
      );
      const slow = run.slowStates.find((s) => s.device === SMOKE_DEVICE)?.slow;
      assert.ok(slow, `${factor}×: the smoke detector was reported slow`);
      assert.ok(
        slow.turnaroundMs >= TIMEOUT_MS && slow.neededTimeoutMs > slow.turnaroundMs,
        `${factor}×: ${JSON.stringify(slow)}`,
      );
      for (const d of devices) d.unit.faults.clear();
    }
  });
});
