/**
 * SIGKILL between a case's commit and its plan (case-log-crash.ts): the 预警 still goes out, once.
 */
import { describe, it } from 'node:test';
import { crashScenario } from './case-log-crash.js';

describe('a cloud killed between a case and its escalation plan', () => {
  it('killed after the case and its log entry committed, before the batch was acknowledged', {
    timeout: 120_000,
  }, async () => {
    await crashScenario({ point: 'case:after-commit' });
  });
});
