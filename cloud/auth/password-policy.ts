import { DoorstepError } from '../../protocol/index.js';

/**
 * What a new password must be (NIST SP 800-63B §5.1.1.2: a minimum length, no composition rules,
 * refuse values that are commonly used or derived from the account's name). 12 characters rather
 * than 800-63B's 8 because a console password guards a whole town's alarms. Counted in Unicode
 * code points after NFC, so a Chinese passphrase counts its characters, not its bytes.
 */
export const PASSWORD_POLICY = { minLength: 12, maxLength: 1024, minDistinct: 5 } as const;

/** A few of the most common long passwords (breach lists); the length rule covers the short ones. */
const COMMON = new Set([
  '123456789012',
  '1234567890123',
  '12345678901234',
  '123123123123',
  '111111111111',
  'password1234',
  'password12345',
  'password123456',
  'passwordpassword',
  'qwertyuiopas',
  'qwerty123456',
  '1qaz2wsx3edc',
  '1q2w3e4r5t6y',
  'adminadmin12',
  'admin1234567',
  'administrator',
  'iloveyou1234',
  'woaini1314520',
  'aa123456789012',
]);

/** Why `password` is refused for `username`, or undefined when it is acceptable. */
export function passwordProblem(password: string, username: string): string | undefined {
  const text = password.normalize('NFC');
  const length = [...text].length;
  if (length < PASSWORD_POLICY.minLength)
    return `must be at least ${PASSWORD_POLICY.minLength} characters (it has ${length})`;
  if (length > PASSWORD_POLICY.maxLength) return `must be at most ${PASSWORD_POLICY.maxLength} characters`;
  if (new Set(text).size < PASSWORD_POLICY.minDistinct)
    return `must use at least ${PASSWORD_POLICY.minDistinct} different characters`;
  const lower = text.toLowerCase();
  if (username.length >= 3 && lower.includes(username.toLowerCase())) return 'must not contain the user name';
  if (COMMON.has(lower)) return 'is one of the most common passwords';
  return undefined;
}

/** Throws CLOUD_ERR_PASSWORD_POLICY naming the rule `password` breaks. */
export function checkPasswordPolicy(password: string, username: string): void {
  const reason = passwordProblem(password, username);
  if (reason) throw new DoorstepError('CLOUD_ERR_PASSWORD_POLICY', { username, reason });
}
