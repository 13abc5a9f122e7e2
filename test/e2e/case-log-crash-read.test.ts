/**
 * SIGKILL after escalation read a case's log entry, before it wrote the plan (case-log-crash.ts).
 */
import { describe, it } from 'node:test';
import { crashScenario } from './case-log-crash.js';

describe('a cloud killed while escalation reads the case-event log', () => {
  it('killed after the entry was read, before the plan was written', { timeout: 120_000 }, async () => {
    await crashScenario({ point: 'escalation:before-plan' });
  });
});
