/**
 * Phone numbers of duty staff: what a person types in the roster ("138 0013 8000", "+86 138-0013-8000",
 * "13800138000") normalised to E.164 (ITU-T E.164: "+", country code, subscriber number, at most
 * 15 digits). A mainland number must be a mobile (11 digits, 1[3-9]…, the numbering plan of
 * MIIT's 电信网编号计划): SMS, voice calls and @mentions all need a mobile. Other countries'
 * numbers are accepted in E.164 as they are (Hong Kong, Macao duty staff).
 */
import { z } from 'zod';
import type { ChannelAddress, NotificationRequest } from '../alarms/contract.js';

const MAINLAND_MOBILE = /^1[3-9]\d{9}$/;
const E164 = /^\+[1-9]\d{6,14}$/;

export type PhoneCheck = { ok: true; e164: string } | { ok: false; reason: string };

export const PHONE_HINT = 'E.164 (+8613800138000) or a mainland mobile of 11 digits (13800138000)';

/** Normalises a typed number to E.164, or says what is wrong with it. */
export function parsePhone(raw: string): PhoneCheck {
  // Spaces, hyphens, dots and brackets are how people group digits; nothing else is allowed.
  const compact = raw.trim().replace(/[\s\-.()]/g, '');
  if (compact === '') return { ok: false, reason: `empty; expected ${PHONE_HINT}` };
  if (MAINLAND_MOBILE.test(compact)) return { ok: true, e164: `+86${compact}` };
  const intl = compact.startsWith('00') ? `+${compact.slice(2)}` : compact;
  if (!E164.test(intl)) return { ok: false, reason: `"${raw}" is not ${PHONE_HINT}` };
  if (intl.startsWith('+86') && !MAINLAND_MOBILE.test(intl.slice(3)))
    return { ok: false, reason: `"${raw}" is not a mainland mobile (+86 1[3-9] and 9 more digits)` };
  return { ok: true, e164: intl };
}

/** True when the number is already normalised (what the channels receive). */
export function isE164(phone: string): boolean {
  const r = parsePhone(phone);
  return r.ok && r.e164 === phone;
}

/**
 * The form mainland services want: 11 digits without +86 for a mainland mobile (Aliyun SMS and
 * voice `PhoneNumbers`/`CalledNumber`, WeCom `mentioned_mobile_list`, DingTalk `atMobiles`);
 * other numbers keep their country code without the "+".
 */
export function nationalNumber(e164: string): string {
  return e164.startsWith('+86') ? e164.slice(3) : e164.replace(/^\+/, '');
}

export function isMainland(e164: string): boolean {
  return e164.startsWith('+86');
}

/** For the config schema: the typed number, normalised to E.164, or an issue naming the problem. */
export const PhoneNumber = z.string().transform((raw, ctx) => {
  const r = parsePhone(raw);
  if (r.ok) return r.e164;
  ctx.addIssue({ code: 'custom', message: r.reason });
  return z.NEVER;
});

/** Shows the last four digits only (logs, stored delivery targets). */
export function maskPhone(e164: string): string {
  // "+86138****8000": the country code and operator prefix tell numbers apart, the rest is hidden.
  return e164.length <= 8 ? '***' : `${e164.slice(0, e164.length - 8)}****${e164.slice(-4)}`;
}

/**
 * Whether an address takes part in this notification: a phone address's `when` limits it to some
 * severities (any case of the request counts) and stages; every other address always does.
 */
export function addressApplies(address: ChannelAddress, request: NotificationRequest): boolean {
  if (address.kind !== 'sms' && address.kind !== 'voice' && address.kind !== 'smpp') return true;
  const when = address.when;
  if (!when) return true;
  if (when.stages && !when.stages.includes(request.stage)) return false;
  if (when.severities && !request.cases.some((c) => when.severities?.includes(c.severity))) return false;
  return true;
}
