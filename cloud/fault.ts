import { writeSync } from 'node:fs';

/**
 * Fault injection for the cloud's crash tests, as edge/fault.ts does for the gateway:
 * `DOORSTEP_FAULT=<point>` makes the process SIGKILL itself the first time it reaches that point,
 * exactly as an OOM kill or a lost VM would stop it there. Unset (production), every call is one
 * string comparison.
 *
 * The points are the gaps of an alarm's path in the cloud:
 * - `case:after-commit` — a case change and its log entry are committed, the batch not yet
 *   acknowledged to the gateway and the entry not yet read by escalation;
 * - `escalation:before-plan` — escalation read the entry, its plan not yet written;
 * - `notify:retry-wait` — a delivery attempt failed, the next one not yet made.
 */
export type CloudFaultPoint = 'case:after-commit' | 'escalation:before-plan' | 'notify:retry-wait';

export const CLOUD_FAULT_POINTS: readonly CloudFaultPoint[] = [
  'case:after-commit',
  'escalation:before-plan',
  'notify:retry-wait',
];

const armed = process.env.DOORSTEP_FAULT;

export function cloudFault(point: CloudFaultPoint): void {
  if (armed !== point) return;
  try {
    writeSync(2, `doorstep: fault injected at ${point}: SIGKILL\n`);
  } catch {
    // the kill matters, not the note
  }
  process.kill(process.pid, 'SIGKILL');
}
