import { type Quality, type Reading, STANDARD_POINTS } from '../../../protocol/index.js';
import { type Implausibility, judgeReport } from '../../profiles/plausibility.js';
import { type FrameReport, STATE_CODE_MASK, STATE_FLAG_LOW_BATTERY, STATE_FLAG_TAMPER } from '../types.js';
import type { FramePointDescriptor, FrameProfile } from './schema.js';

export interface FrameDecodeResult {
  readings: Reading[];
  /** What the profile could not make sense of (unknown state code, missing value); readings still carry the rest. */
  problems: string[];
  /**
   * What in this frame cannot be true (a value outside its physical range, an alarm state with a
   * zero concentration): those readings are uncertain, and the device is faulty while it lasts.
   */
  implausible: Implausibility[];
}

const DIAGNOSTICS = STANDARD_POINTS.diagnostics;

/** Rounds away binary noise from scaling (0.1 × 153 = 15.299999…). */
function scaled(raw: number, scale: number): number {
  return Number((raw * scale).toPrecision(12));
}

/**
 * Turns one frame into readings for `device` at `ts` (gateway clock). Pure. An unknown state code
 * yields no state points — the detector's meaning is unknown, and guessing "normal" could hide a
 * fire — but battery and signal still arrive and the problem is reported for the caller to count.
 */
export function decodeFrameReport(
  profile: FrameProfile,
  frame: FrameReport,
  device: string,
  ts: number,
): FrameDecodeResult {
  const readings: Reading[] = [];
  const problems: string[] = [];
  const push = (point: string, value: number | boolean, quality: Quality) => {
    const unit = profile.descriptors[point]?.unit ?? '';
    readings.push({ device, point, value, unit, quality, ts });
  };
  const inRange = (point: string, value: number): boolean => {
    const range = profile.descriptors[point]?.range;
    return !range || (value >= range[0] && value <= range[1]);
  };

  const code = frame.state & STATE_CODE_MASK;
  const entry = profile.states[code];
  if (entry) {
    for (const [point, value] of Object.entries(entry.set)) {
      push(point, value, entry.bad.includes(point) ? 'bad' : 'good');
    }
  } else {
    problems.push(`state code ${code} is not defined by profile ${profile.id}`);
  }

  if (profile.value) {
    const { point, scale, required } = profile.value;
    if (frame.value !== undefined) {
      const value = scaled(frame.value, scale);
      push(point, value, inRange(point, value) ? 'good' : 'uncertain');
    } else if (required) {
      problems.push(`profile ${profile.id} needs the value field (${point}), the frame has none`);
    }
  }

  // Out-of-range battery or signal still arrives, marked uncertain: a radio's odd RSSI is no reason to hide it.
  // A layout without battery or rssi fields yields neither point.
  if (frame.battery !== undefined)
    push(
      DIAGNOSTICS.battery,
      frame.battery,
      inRange(DIAGNOSTICS.battery, frame.battery) ? 'good' : 'uncertain',
    );
  // GB 20517-2025 §5.11: low battery is a fault distinct from fire; the detector's own flag or < threshold.
  const lowFlag = (frame.state & STATE_FLAG_LOW_BATTERY) !== 0;
  push(
    DIAGNOSTICS.batteryLow,
    lowFlag || (frame.battery !== undefined && frame.battery < profile.lowBatteryBelow),
    'good',
  );
  if (frame.rssi !== undefined)
    push(DIAGNOSTICS.signal, frame.rssi, inRange(DIAGNOSTICS.signal, frame.rssi) ? 'good' : 'uncertain');
  if (profile.hasTamper) push(DIAGNOSTICS.tamper, (frame.state & STATE_FLAG_TAMPER) !== 0, 'good');
  const judged = judgeReport(plausibilityOf(profile), readings);
  return { readings: judged.readings, problems, implausible: judged.implausible };
}

const plausibility = new WeakMap<FrameProfile, { checks: []; points: FramePointDescriptor[] }>();

/** A frame profile's points for the shared plausibility rules (drivers/profiles/plausibility.ts). */
function plausibilityOf(profile: FrameProfile): { checks: []; points: FramePointDescriptor[] } {
  let out = plausibility.get(profile);
  if (!out) {
    out = { checks: [], points: Object.values(profile.descriptors) };
    plausibility.set(profile, out);
  }
  return out;
}
