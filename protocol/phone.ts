import { z } from 'zod';

/**
 * A phone number people are reached at, normalised to E.164 (ITU-T E.164: `+`, country code,
 * subscriber number, at most 15 digits). Accepted as written by installers and duty rosters:
 * `+8613800138000`, `8613800138000`, `13800138000` (a mainland mobile: 11 digits starting 13–19,
 * the numbering plan of MIIT for mobile services) and with spaces or hyphens between groups
 * (`138 0013 8000`, `+86-138-0013-8000`). Anything else is refused with the reason.
 */
export const MAINLAND_MOBILE = /^1[3-9]\d{9}$/;
const E164 = /^\+[1-9]\d{6,14}$/;

export function normalisePhoneNumber(text: string): string | undefined {
  const compact = text.trim().replace(/[\s-]/g, '');
  if (MAINLAND_MOBILE.test(compact)) return `+86${compact}`;
  if (/^86\d{11}$/.test(compact) && MAINLAND_MOBILE.test(compact.slice(2))) return `+${compact}`;
  if (!E164.test(compact)) return undefined;
  // +86 numbers must be mainland mobiles: a landline cannot receive a text.
  if (compact.startsWith('+86') && !MAINLAND_MOBILE.test(compact.slice(3))) return undefined;
  return compact;
}

export const PhoneNumber = z.string().transform((text, ctx) => {
  const normalised = normalisePhoneNumber(text);
  if (normalised === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${text}" is not a phone number: write a mainland mobile (13800138000) or E.164 (+8613800138000)`,
    });
    return z.NEVER;
  }
  return normalised;
});
export type PhoneNumber = z.output<typeof PhoneNumber>;
