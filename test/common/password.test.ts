import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  hashPasswordSync,
  PasswordError,
  parsePasswordHash,
  passwordHashProblems,
  SCRYPT_PARAMS,
  unmatchableHash,
  verifyPassword,
  verifyPasswordSync,
} from '../../common/password.js';
import { PasswordPool, PasswordPoolBusy } from '../../common/password-pool.js';

const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

describe('common/password: the one scrypt hasher (RFC 7914)', () => {
  it('hashes with the server cost as scrypt$N$r$p$salt$hash and verifies it', async () => {
    const encoded = await hashPassword('correct horse');
    assert.match(encoded, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    const parsed = parsePasswordHash(encoded);
    assert.deepEqual(
      { N: parsed?.N, r: parsed?.r, p: parsed?.p, salt: parsed?.salt.length, hash: parsed?.hash.length },
      { ...DEFAULT_SCRYPT_PARAMS, salt: 16, hash: 32 },
    );
    assert.equal(await verifyPassword('correct horse', encoded), true);
    assert.equal(await verifyPassword('correct horse ', encoded), false);
    assert.equal(await verifyPassword(Buffer.from('correct horse'), encoded), true);
    assert.match(await hashPassword('x', SCRYPT_PARAMS.gateway), /^scrypt\$16384\$8\$1\$/);
  });

  it('the synchronous pair (worker side) agrees with the asynchronous one', async () => {
    const a = hashPasswordSync('zwölf', FAST_SCRYPT);
    assert.equal(await verifyPassword('zwölf', a), true);
    assert.equal(verifyPasswordSync('zwölf', await hashPassword('zwölf', FAST_SCRYPT)), true);
    assert.equal(verifyPasswordSync('zwolf', a), false);
  });

  it('normalises text to NFC, so precomposed and combining accents are one password', async () => {
    const encoded = await hashPassword('caf\u00e9', FAST_SCRYPT);
    assert.equal(await verifyPassword('cafe\u0301', encoded), true);
  });

  it('salts every hash, so equal passwords give different hashes', async () => {
    const a = await hashPassword('same', FAST_SCRYPT);
    const b = await hashPassword('same', FAST_SCRYPT);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same', a), true);
    assert.equal(await verifyPassword('same', b), true);
  });

  it('refuses to hash an empty password or parameters outside the bounds', async () => {
    await assert.rejects(
      hashPassword(''),
      (e: unknown) => e instanceof PasswordError && /empty/.test(e.reason),
    );
    await assert.rejects(
      hashPassword('x', { N: 1000, r: 8, p: 1 }),
      (e: unknown) => e instanceof PasswordError && /power of two/.test(e.message),
    );
  });

  it('reports what is wrong with a malformed hash, and never matches one', async () => {
    assert.deepEqual(passwordHashProblems('plain-text'), ['must look like scrypt$N$r$p$saltB64$hashB64']);
    assert.deepEqual(passwordHashProblems('scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA=='), [
      'N must be a power of two between 2 and 1048576',
    ]);
    assert.match(passwordHashProblems('scrypt$1024$8$1$!!$aGFzaA==').join(), /salt.*hash/);
    assert.equal(await verifyPassword('anything', 'plain-text'), false);
    assert.equal(await verifyPassword('anything', unmatchableHash(FAST_SCRYPT)), false);
  });

  it('the gateway CLI prints a gateway-cost hash of stdin and refuses an empty one with its code', () => {
    const cli = ['--import', 'tsx', 'edge/broker/hash-password.ts'];
    const ok = spawnSync(process.execPath, cli, { input: 'pw\n', encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(verifyPasswordSync('pw', ok.stdout.trim()), true);
    assert.match(ok.stdout, /^scrypt\$16384\$/);
    const empty = spawnSync(process.execPath, cli, { input: '', encoding: 'utf8' });
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /broker password.*empty/);
  });
});

describe('common/password-pool: scrypt on worker threads with a bounded queue', () => {
  it('hashes and verifies on its workers', async () => {
    const pool = new PasswordPool({ threads: 2, maxQueue: 2 });
    try {
      const encoded = await pool.hash('s3cret', FAST_SCRYPT);
      assert.equal(await pool.verify('s3cret', encoded), true);
      assert.equal(await pool.verify('s3cret!', encoded), false);
      assert.equal(await pool.verify('s3cret', 'not a hash'), false);
      await assert.rejects(pool.hash(''), PasswordError);
    } finally {
      await pool.close();
    }
  });

  it('holds at most threads + maxQueue checks and refuses the next at once', async () => {
    const pool = new PasswordPool({ threads: 1, maxQueue: 2 });
    try {
      const encoded = await hashPassword('pw');
      const results = await Promise.allSettled(Array.from({ length: 7 }, () => pool.verify('pw', encoded)));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof PasswordPoolBusy);
      assert.equal(ok.length, 3);
      assert.equal(busy.length, 4);
      assert.ok(ok.every((r) => r.status === 'fulfilled' && r.value === true));
      assert.equal(pool.inFlight, 0);
      // Room again once the held ones are done.
      assert.equal(await pool.verify('pw', encoded), true);
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.verify('pw', await hashPassword('pw', FAST_SCRYPT)), PasswordPoolBusy);
  });
});
