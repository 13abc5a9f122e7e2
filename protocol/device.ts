import { z } from 'zod';

/**
 * A device's link state as the bus scheduler sees it. `offline` always carries a reason code from
 * the error catalogue (e.g. DRV_ERR_TIMEOUT) so an installer knows whether to check wiring,
 * address or baud rate.
 */
export const DeviceLinkState = z.object({
  device: z.string(),
  state: z.enum(['unknown', 'online', 'offline', 'disabled']),
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
