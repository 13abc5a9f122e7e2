/**
 * Phone numbers of duty staff as the channels use them: the rule that normalises them to E.164 is
 * protocol/phone.ts; here the forms providers want, masking for logs, and which addresses apply.
 */
import { PHONE_HINT, type PhoneCheck, PhoneNumber, parsePhone } from '../../protocol/phone.js';
import type { ChannelAddress, NotificationRequest } from '../alarms/contract.js';

// One rule for every process (protocol/phone.ts); re-exported where the notify code looks for it.
export { PHONE_HINT, type PhoneCheck, PhoneNumber, parsePhone };

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
