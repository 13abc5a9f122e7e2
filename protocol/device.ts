import { z } from 'zod';

/**
 * A device's state as the gateway sees it, each with a `since`:
 * - `online`: it answers and its data decodes.
 * - `offline`: it does not answer (timeout, CRC, link down, a bus that delivers no valid frame …).
 * - `faulty`: it answers, but with Modbus exceptions or data its profile cannot decode — alive on
 *   the wire, yet delivering nothing a rule can trust.
 * `offline` and `faulty` always carry a reason code from the error catalogue (e.g.
 * DRV_ERR_TIMEOUT, DRV_ERR_EXCEPTION, DRV_ERR_DECODE) and a `detail` in words, so an installer
 * knows whether to check wiring, address, baud rate or the profile.
 */
/** Every device state, in the order people read them. */
export const DEVICE_STATES = ['unknown', 'online', 'faulty', 'offline', 'disabled'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

export const DeviceLinkState = z.object({
  device: z.string(),
  state: z.enum(DEVICE_STATES),
  reason: z.string().optional(),
  detail: z.string().optional(),
  since: z.number().int().nonnegative(),
  lastSeen: z.number().int().nonnegative().optional(),
  consecutiveFailures: z.number().int().nonnegative().default(0),
  /**
   * Set while the device keeps answering after its timeout (its late replies are discarded, never
   * believed): the turnaround measured from the end of the request to the late reply, the timeout
   * it would need, and how many late replies this episode has counted. Cleared once it answers in
   * time again.
   */
  slow: z
    .object({ turnaroundMs: z.number(), neededTimeoutMs: z.number(), lateReplies: z.number().int() })
    .optional(),
});
export type DeviceLinkState = z.infer<typeof DeviceLinkState>;
