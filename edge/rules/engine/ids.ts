import { createHash, randomBytes } from 'node:crypto';

/** AlarmTransition.id is at most 96 characters (protocol/alarm.ts). */
const MAX_ID_LENGTH = 96;

export type AlarmIdFactory = (device: string, type: string, ts: number) => string;

/**
 * Occurrence ids `${gateway}.${device}.${type}.${base36 ts}.${base36 seq}.${boot}`: the gateway
 * makes them unique across gateways; the time, a per-engine sequence and a random boot tag make
 * them unique across restarts (even when the clock steps back after a power loss). Slugs cannot
 * contain ".", so the parts never run together. When long slugs would pass 96 characters the
 * device.type part is replaced by a digest of it.
 */
export function createAlarmIdFactory(
  gateway: string,
  bootTag = randomBytes(4).readUInt32BE(0).toString(36),
): AlarmIdFactory {
  let sequence = 0;
  return (device, type, ts) => {
    const tail = `${ts.toString(36)}.${(sequence++).toString(36)}.${bootTag}`;
    const id = `${gateway}.${device}.${type}.${tail}`;
    if (id.length <= MAX_ID_LENGTH) return id;
    const digest = createHash('sha256')
      .update(`${device}.${type}`)
      .digest('base64url')
      .slice(0, 16)
      .toLowerCase();
    return `${gateway.slice(0, MAX_ID_LENGTH - tail.length - 18)}.${digest}.${tail}`;
  };
}
