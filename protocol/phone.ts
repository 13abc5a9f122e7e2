import { z } from 'zod';

/**
 * A phone number people are reached at, normalised to E.164 (ITU-T E.164: `+`, country code,
 * subscriber number, at most 15 digits) — one rule for the cloud's duty rosters and the gateway's
 * on-site duty numbers. Accepted as written by installers and rosters: `+8613800138000`,
 * `008613800138000`, `8613800138000`, `13800138000` (a mainland mobile: 11 digits starting 13–19,
 * the numbering plan of MIIT for mobile services), with spaces, hyphens, dots or brackets between
 * groups (`138 0013 8000`, `+86-138-0013-8000`). A mainland number must be a mobile: SMS, voice
 * calls and @mentions need one. Other countries' numbers are accepted in E.164 as they are (Hong
 * Kong, Macao duty staff). Anything else is refused with the reason.
 */
export const MAINLAND_MOBILE = /^1[3-9]\d{9}$/;
const E164 = /^\+[1-9]\d{6,14}$/;

export const PHONE_HINT = 'E.164 (+8613800138000) or a mainland mobile of 11 digits (13800138000)';

export type PhoneCheck = { ok: true; e164: string } | { ok: false; reason: string };

/** Normalises a typed number to E.164, or says what is wrong with it. */
export function parsePhone(raw: string): PhoneCheck {
  const compact = raw.trim().replace(/[\s\-.()]/g, '');
  if (compact === '') return { ok: false, reason: `empty; expected ${PHONE_HINT}` };
  if (MAINLAND_MOBILE.test(compact)) return { ok: true, e164: `+86${compact}` };
  if (/^86\d{11}$/.test(compact) && MAINLAND_MOBILE.test(compact.slice(2)))
    return { ok: true, e164: `+${compact}` };
  const intl = compact.startsWith('00') ? `+${compact.slice(2)}` : compact;
  if (!E164.test(intl)) return { ok: false, reason: `"${raw}" is not ${PHONE_HINT}` };
  if (intl.startsWith('+86') && !MAINLAND_MOBILE.test(intl.slice(3)))
    return { ok: false, reason: `"${raw}" is not a mainland mobile (+86 1[3-9] and 9 more digits)` };
  return { ok: true, e164: intl };
}

export function normalisePhoneNumber(text: string): string | undefined {
  const r = parsePhone(text);
  return r.ok ? r.e164 : undefined;
}

/** For configuration schemas: the typed number, normalised to E.164, or an issue naming the problem. */
export const PhoneNumber = z.string().transform((raw, ctx) => {
  const r = parsePhone(raw);
  if (r.ok) return r.e164;
  ctx.addIssue({ code: 'custom', message: r.reason });
  return z.NEVER;
});
export type PhoneNumber = z.output<typeof PhoneNumber>;
