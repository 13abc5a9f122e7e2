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
});
export type DeviceLinkState = z.infer<typeof DeviceLinkState>;
