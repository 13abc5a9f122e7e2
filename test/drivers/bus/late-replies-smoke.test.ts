import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SerialLink } from '../../../drivers/link/serial.js';
import type { SerialSettings } from '../../../drivers/link/types.js';
import { RtuSlave } from '../../../drivers/sim/index.js';
import { openPtyPair } from '../../support/pty.js';
import { catalogueDevices, runLateFactor, SMOKE_DEVICE, summary } from './late-replies-harness.js';

const TIMEOUT_MS = 30;
const SERIAL: SerialSettings = { baudRate: 115200, parity: 'none', dataBits: 8, stopBits: 1 };

// Issue 11: a smoke detector whose status word is 0 answered late; the master took the late reply
// for the next request's answer and raised a latched smoke alarm. Here its other registers are odd,
// so any late reply taken for the status word reads as smoke. On the code before the late-reply
// guard this case read 32 wrong values and 21 smoke alarms in 300 polls at 1.5 × the timeout.
describe('the slow smoke detector of the issue, alone on its bus', () => {
  it('answering two polls in five at 1.5, 2 and 3 × the timeout: its late obscuration is never read as its status', async (t) => {
    const pty = await openPtyPair();
    after(() => pty.close());
    const smoke = catalogueDevices().find((d) => d.id === SMOKE_DEVICE)!;
    const slave = new RtuSlave({ link: new SerialLink({ path: pty.b, ...SERIAL }), units: [smoke.unit] });
    await slave.start();
    after(() => slave.stop());
    for (const factor of [1.5, 2, 3]) {
      smoke.unit.faults.set({ mode: 'slow', delayMs: factor * TIMEOUT_MS, probability: 0.4 });
      const run = await runLateFactor({
        factor,
        path: pty.a,
        serial: SERIAL,
        devices: [smoke],
        timeoutMs: TIMEOUT_MS,
        minTransactions: 150,
        limitMs: 120_000,
      });
      t.diagnostic(summary(run));
      assert.deepEqual(run.wrong.slice(0, 8), [], `${factor}×: wrong readings`);
      assert.deepEqual(run.alarms.slice(0, 5), [], `${factor}×: alarms`);
      assert.ok(run.readings >= 30, `${factor}×: ${run.readings} readings`);
      assert.ok(run.stats.lateReplies >= 20, `${factor}×: ${run.stats.lateReplies} late replies`);
      assert.ok(run.slowStates.some((s) => s.device === SMOKE_DEVICE));
    }
  });
});
