/**
 * Prints the scrypt hash of a password read from stdin, for the broker's `users[].passwordHash`:
 *   printf '%s' 'the password' | npx tsx edge/broker/hash-password.ts
 * The password is read from stdin, not argv, so it never shows in `ps` or shell history.
 */
import { hashPassword } from './password.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const plain = Buffer.concat(chunks)
  .toString('utf8')
  .replace(/\r?\n$/, '');
try {
  process.stdout.write(`${await hashPassword(plain)}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
}
