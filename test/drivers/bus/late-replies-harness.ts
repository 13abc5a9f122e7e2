/**
 * Late replies over a real pty pair, through the gateway's path (bus scheduler → acquisition →
 * profile decode), against a slave that answers some requests at k × the timeout. Every built-in
 * register profile is one device on the bus; every reading is compared with what the device holds.
 */
import { DeviceAcquisition } from '../../../drivers/acquisition.js';
import { BusScheduler } from '../../../drivers/bus/scheduler.js';
import type { BusStats } from '../../../drivers/bus/types.js';
import { SerialLink } from '../../../drivers/link/serial.js';
import type { SerialSettings } from '../../../drivers/link/types.js';
import { registerProfiles } from '../../../drivers/profiles/catalogue/index.js';
import type { RegisterProfile } from '../../../drivers/profiles/types.js';
import { SimDevice } from '../../../drivers/sim/devices.js';
import type { DeviceLinkState, Reading } from '../../../protocol/index.js';
import { until } from './helpers.js';

export const LATE_FACTORS = [1.2, 1.5, 2, 3] as const;

/** The smoke detector of the issue: its status word is 0, the registers next to it are odd. */
export const SMOKE_DEVICE = 'smoke-status-register';

/**
 * One simulated device per built-in register profile, unit ids 1…n, in their normal state — except
 * that the smoke detector's obscuration (0.011 dB/m → register 11) and battery (93 %) are odd:
 * were either late reply taken as the status word's answer, bit 0 would read as a smoke alarm.
 */
export function catalogueDevices(): SimDevice[] {
  return [...registerProfiles.values()].map(
    (profile, i) =>
      new SimDevice({
        id: profile.id,
        profile: profile as RegisterProfile,
        unitId: i + 1,
        ...(profile.id === SMOKE_DEVICE ? { initial: { smoke_density: 0.011, battery: 93 } } : {}),
      }),
  );
}

export interface LateRun {
  factor: number;
  stats: BusStats;
  readings: number;
  /** Readings whose value is not what the device holds, as `device.point=value`. */
  wrong: string[];
  /** Boolean readings that came true: alarms, faults, tampers the devices never raised. */
  alarms: string[];
  slowStates: DeviceLinkState[];
  finalStates: DeviceLinkState[];
}

function same(got: number | boolean, expected: number | boolean | undefined): boolean {
  if (typeof got === 'boolean' || typeof expected === 'boolean') return got === expected;
  if (expected === undefined) return false;
  return Math.abs(got - expected) <= 1e-3 * Math.max(1, Math.abs(expected));
}

/** Polls every device as fast as the bus allows until `minTransactions` transactions have run. */
export async function runLateFactor(options: {
  factor: number;
  path: string;
  serial: SerialSettings;
  devices: SimDevice[];
  timeoutMs: number;
  minTransactions: number;
  limitMs: number;
}): Promise<LateRun> {
  const { devices, serial, timeoutMs } = options;
  const scheduler = new BusScheduler({
    bus: `late-${options.factor}`,
    protocol: 'rtu',
    serial,
    createLink: () => new SerialLink({ path: options.path, ...serial }),
    // A device that answers late on most polls goes offline; probe it again soon.
    backoff: { initialMs: 100, factor: 2, maxMs: 400 },
    stallAfterMs: 600_000,
  });
  const acquisition = new DeviceAcquisition(scheduler);
  const byId = new Map(devices.map((d) => [d.id, d]));
  let readings = 0;
  const wrong: string[] = [];
  const alarms: string[] = [];
  const slowStates: DeviceLinkState[] = [];
  acquisition.onReadings((batch: Reading[]) => {
    for (const r of batch) {
      readings++;
      const expected = byId.get(r.device)?.get(r.point);
      if (!same(r.value as number | boolean, expected))
        wrong.push(`${r.device}.${r.point}=${String(r.value)} (holds ${String(expected)})`);
      if (r.value === true) alarms.push(`${r.device}.${r.point}`);
    }
  });
  scheduler.onDeviceState((s) => {
    if (s.slow) slowStates.push(s);
  });
  for (const d of devices) {
    acquisition.add({
      id: d.id,
      profile: d.profile,
      unitId: d.unit.unitId,
      timeoutMs,
      retries: 1,
      intervals: { critical: 0, normal: 0, diagnostic: 0 },
    });
  }
  acquisition.start();
  scheduler.start();
  try {
    await until(
      () => scheduler.stats().transactions >= options.minTransactions,
      `${options.minTransactions} transactions at ${options.factor} × the timeout`,
      options.limitMs,
    );
  } finally {
    acquisition.stop();
    await scheduler.stop();
  }
  return {
    factor: options.factor,
    stats: scheduler.stats(),
    readings,
    wrong,
    alarms,
    slowStates,
    finalStates: scheduler.deviceStates(),
  };
}

export function summary(run: LateRun): string {
  const s = run.stats;
  return (
    `${run.factor}×: ${s.transactions} transactions, ${s.successes} answered, ${run.readings} readings, ` +
    `${run.wrong.length} wrong, ${run.alarms.length} alarms, ${s.lateReplies} late replies discarded, ` +
    `${s.rejectedReplies} rejected, slow: ${[...new Set(run.slowStates.map((x) => x.device))].join(',') || '-'}`
  );
}
