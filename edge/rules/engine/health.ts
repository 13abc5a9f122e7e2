import type { RuleRuntime } from './runtime.js';

/** What the health view reads: open occurrences, chattering points, walk-test devices. */
export interface RuleEngineHealth {
  devices: number;
  rules: number;
  /** Readings of devices that have no rules here (unknown or removed devices). */
  ignoredReadings: number;
  open: { device: string; type: string; id: string | undefined; phase: string; test: boolean }[];
  /** Points flagged as chattering (ISA-18.2: ≥ 3 activations within 1 min). */
  chattering: { device: string; type: string; point: string | undefined }[];
  walkTest: string[];
}

export function describeHealth(
  rules: readonly RuleRuntime[],
  devices: number,
  ignoredReadings: number,
  walkTest: ReadonlySet<string>,
): RuleEngineHealth {
  const open: RuleEngineHealth['open'] = [];
  const chattering: RuleEngineHealth['chattering'] = [];
  for (const { state } of rules) {
    if (state.phase !== 'normal') {
      open.push({
        device: state.device,
        type: state.type,
        id: state.id,
        phase: state.phase,
        test: state.test,
      });
    }
    if (state.chattering) chattering.push({ device: state.device, type: state.type, point: state.point });
  }
  return { devices, rules: rules.length, ignoredReadings, open, chattering, walkTest: [...walkTest] };
}
