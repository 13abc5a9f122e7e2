/**
 * SIGKILL while a 预警's delivery waits to retry after the webhook refused it (case-log-crash.ts):
 * delivered once after the restart, and never recorded as sent before the webhook accepted it.
 */
import { describe, it } from 'node:test';
import { crashScenario } from './case-log-crash.js';

describe('a cloud killed while a delivery is retrying', () => {
  it('killed between a refused attempt and the next', { timeout: 120_000 }, async () => {
    await crashScenario({ point: 'notify:retry-wait', failFirst: 1 });
  });
});
