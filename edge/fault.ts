import { writeSync } from 'node:fs';

/**
 * Fault injection for crash tests: `DOORSTEP_FAULT=<point>` makes the process SIGKILL itself the
 * first time it reaches that point, exactly as a power cut or an OOM kill would stop it there.
 * Unset (production), every call is one string comparison.
 *
 * The points are the durable steps of an alarm's life on the gateway:
 * - `decision:before-commit` — an alarm's rows and the rule state that decided it are written, not yet committed;
 * - `decision:after-commit` — committed, not yet announced (local actions, MQTT, uplink);
 * - `alarm:announced` — announced on site;
 * - `uplink:before-ack` — the cloud acknowledged a batch holding an alarm, the outbox not yet told;
 * - `uplink:after-ack` — the alarm's rows removed from the outbox.
 */
export type FaultPoint =
  | 'decision:before-commit'
  | 'decision:after-commit'
  | 'alarm:announced'
  | 'uplink:before-ack'
  | 'uplink:after-ack';

export const FAULT_POINTS: readonly FaultPoint[] = [
  'decision:before-commit',
  'decision:after-commit',
  'alarm:announced',
  'uplink:before-ack',
  'uplink:after-ack',
];

const armed = process.env.DOORSTEP_FAULT;

export function faultPoint(point: FaultPoint): void {
  if (armed !== point) return;
  try {
    writeSync(2, `doorstep: fault injected at ${point}: SIGKILL\n`);
  } catch {
    // the kill matters, not the note
  }
  process.kill(process.pid, 'SIGKILL');
}
