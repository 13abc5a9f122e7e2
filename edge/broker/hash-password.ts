/**
 * Prints the scrypt hash of a password read from stdin, for the broker's `users[].passwordHash`:
 *   printf '%s' 'the password' | npx tsx edge/broker/hash-password.ts
 * The password is read from stdin, not argv, so it never shows in `ps` or shell history. The
 * hasher is the one of every process (common/password.ts), at the gateway's cost.
 */
import { hashPassword, PasswordError, SCRYPT_PARAMS } from '../../common/password.js';
import { DoorstepError } from '../../protocol/errors.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const plain = Buffer.concat(chunks)
  .toString('utf8')
  .replace(/\r?\n$/, '');
try {
  process.stdout.write(`${await hashPassword(plain, SCRYPT_PARAMS.gateway)}\n`);
} catch (error) {
  const shown =
    error instanceof PasswordError
      ? new DoorstepError('EDGE_ERR_BROKER_PASSWORD', { reason: error.reason })
      : error;
  process.stderr.write(`${(shown as Error).message}\n`);
  process.exitCode = 1;
}
