import { z } from 'zod';
import { AlarmSeverity, PhoneNumber } from '../../protocol/index.js';

const HOUR = 3_600_000;

/**
 * The gateway's own 4G modem (edge/modem/README.md): the last resort when the cloud cannot be
 * reached. Off unless `enabled`; then `port` and at least one duty number are required.
 */
export const ModemConfig = z
  .object({
    enabled: z.boolean().default(false),
    /** The modem's AT command port; prefer /dev/serial/by-id/… (ttyUSB numbers change on replug). */
    port: z.string().min(1).optional(),
    /** USB modems ignore it; a modem on a real UART needs its configured rate (8N1). */
    baudRate: z.number().int().positive().default(115200),
    /** SIM PIN, sent only when the SIM asks for it (AT+CPIN? answers SIM PIN). */
    pin: z
      .string()
      .regex(/^\d{4,8}$/, 'a SIM PIN is 4–8 digits')
      .optional(),
    /** On-site duty numbers, mainland mobiles or E.164; stored normalised to E.164. */
    dutyNumbers: z.array(PhoneNumber).max(10).default([]),
    /**
     * How long an alarm may stay unacknowledged by the cloud before it is texted. 10 s is what
     * GB 26875.1-2011 §4.1.2.1 allows a fire alarm to reach the monitoring centre (docs/standards.md);
     * the uplink retries alarms every 0.5–4 s meanwhile, so a working uplink is well inside it.
     */
    afterMs: z.number().int().min(1000).max(3_600_000).default(10_000),
    /** Which alarm severities are texted (walk-test alarms never are). */
    severities: z.array(AlarmSeverity).min(1).default(['critical']),
    /** At most `max` texts to one number within `windowMs`; later alarms wait and go together. */
    ratePerNumber: z
      .object({
        max: z.number().int().min(1).max(100).default(6),
        windowMs: z
          .number()
          .int()
          .min(60_000)
          .max(24 * HOUR)
          .default(HOUR),
      })
      .strict()
      .prefault({}),
    /** Backoff after a failed attempt (no SIM, no network, +CMS ERROR, timeout): doubles from min to max. */
    retry: z
      .object({
        minMs: z.number().int().min(100).max(600_000).default(5000),
        maxMs: z.number().int().min(1000).max(3_600_000).default(300_000),
      })
      .strict()
      .prefault({}),
    /** An alarm not texted within this long (modem failing throughout) is given up and logged. */
    giveUpAfterMs: z
      .number()
      .int()
      .min(60_000)
      .default(24 * HOUR),
    /** Reply timeout of ordinary AT commands. */
    commandTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    /** AT+CMGS: the submission waits for the network (modem manuals give up to 120 s). */
    sendTimeoutMs: z.number().int().min(500).max(180_000).default(60_000),
    /** The modem is checked (AT, SIM, registration) this often while idle, so /health knows before an alarm. */
    probeIntervalMs: z
      .number()
      .int()
      .min(1000)
      .max(24 * HOUR)
      .default(300_000),
    /** Language of the texts: Chinese first, English by switch. */
    lang: z.enum(['zh', 'en']).default('zh'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.enabled) return;
    if (!c.port) ctx.addIssue({ code: 'custom', path: ['port'], message: 'required when enabled' });
    if (c.dutyNumbers.length === 0)
      ctx.addIssue({ code: 'custom', path: ['dutyNumbers'], message: 'at least one number when enabled' });
    const seen = new Set<string>();
    c.dutyNumbers.forEach((n, i) => {
      if (seen.has(n))
        ctx.addIssue({ code: 'custom', path: ['dutyNumbers', i], message: `${n} is listed twice` });
      seen.add(n);
    });
    if (c.retry.maxMs < c.retry.minMs)
      ctx.addIssue({ code: 'custom', path: ['retry', 'maxMs'], message: 'must be ≥ retry.minMs' });
  });
export type ModemConfig = z.infer<typeof ModemConfig>;
