import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createLogger, REDACT_PATHS } from '../../common/log.js';

/** A logger with the shared redaction that writes its lines into `lines`. */
function capture(lines: string[]) {
  const out = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return pino({ level: 'info', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, out);
}

describe('common/log', () => {
  it('credentials never reach a line, wherever they ride (gateway and cloud shapes)', () => {
    const lines: string[] = [];
    const log = capture(lines).child({ svc: 'test' });
    log.info({ password: 'p1', broker: { password: 'p2' }, user: { acl: { password: 'p3' } } }, 'broker');
    log.info(
      { token: 't1', uplink: { token: 't2', secret: 's1' }, notify: { sms: { accessKeySecret: 'k1' } } },
      'c',
    );
    log.info({ req: { headers: { authorization: 'Bearer b1', cookie: 'sid=c1' } } }, 'request');
    log.info({ user: { passwordHash: 'scrypt$h1' } }, 'user');
    const text = lines.join('');
    for (const secret of ['p1', 'p2', 'p3', 't1', 't2', 's1', 'k1', 'b1', 'c1', 'h1'])
      assert.doesNotMatch(text, new RegExp(`\\b${secret}\\b`), secret);
    assert.equal(text.match(/\[redacted\]/g)?.length, 10);
  });

  it('createLogger names the process and takes its level from the options or DOORSTEP_LOG_LEVEL', () => {
    const cloud = createLogger({ name: 'doorstep-cloud', level: 'warn' });
    assert.equal(cloud.level, 'warn');
    assert.equal((cloud.bindings() as { name?: string }).name, 'doorstep-cloud');
    const before = process.env.DOORSTEP_LOG_LEVEL;
    process.env.DOORSTEP_LOG_LEVEL = 'debug';
    try {
      assert.equal(createLogger().level, 'debug');
    } finally {
      if (before === undefined) delete process.env.DOORSTEP_LOG_LEVEL;
      else process.env.DOORSTEP_LOG_LEVEL = before;
    }
  });
});
