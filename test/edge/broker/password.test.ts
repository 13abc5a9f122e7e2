import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  parsePasswordHash,
  passwordHashProblems,
  verifyPassword,
} from '../../../edge/broker/password.js';
import { isDoorstepError } from '../../../protocol/errors.js';
import { FAST_SCRYPT } from './helpers.js';

describe('broker passwords (scrypt, RFC 7914)', () => {
  it('hashes with the default cost as scrypt$N$r$p$salt$hash and verifies it', async () => {
    const encoded = await hashPassword('correct horse');
    assert.match(encoded, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    const parsed = parsePasswordHash(encoded);
    assert.deepEqual(
      { N: parsed?.N, r: parsed?.r, p: parsed?.p, salt: parsed?.salt.length, hash: parsed?.hash.length },
      { ...DEFAULT_SCRYPT_PARAMS, salt: 16, hash: 32 },
    );
    assert.equal(await verifyPassword('correct horse', encoded), true);
    assert.equal(await verifyPassword('correct horse ', encoded), false);
    assert.equal(await verifyPassword(Buffer.from('correct horse'), encoded), true);
  });

  it('salts every hash, so equal passwords give different hashes', async () => {
    const a = await hashPassword('same', FAST_SCRYPT);
    const b = await hashPassword('same', FAST_SCRYPT);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same', a), true);
    assert.equal(await verifyPassword('same', b), true);
  });

  it('refuses to hash an empty password', async () => {
    await assert.rejects(hashPassword(''), (e: unknown) => isDoorstepError(e, 'EDGE_ERR_BROKER_PASSWORD'));
    await assert.rejects(
      hashPassword('x', { N: 1000, r: 8, p: 1 }),
      (e: unknown) => isDoorstepError(e, 'EDGE_ERR_BROKER_PASSWORD') && /power of two/.test(e.message),
    );
  });

  it('reports what is wrong with a malformed hash, and never matches one', async () => {
    assert.deepEqual(passwordHashProblems('plain-text'), ['must look like scrypt$N$r$p$saltB64$hashB64']);
    assert.deepEqual(passwordHashProblems('scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA=='), [
      'N must be a power of two between 2 and 1048576',
    ]);
    assert.match(passwordHashProblems('scrypt$1024$8$1$!!$aGFzaA==').join(), /salt.*hash/);
    assert.equal(await verifyPassword('anything', 'plain-text'), false);
  });
});
