import { type GatewayConfigResult, validateGatewayConfig } from '../../../edge/config/load.js';

/** Validates a gateway config object for tests and fails loudly on fatal problems. */
export function gatewayConfig(doc: Record<string, unknown>): GatewayConfigResult {
  const checked = validateGatewayConfig(doc);
  if (!checked.ok) throw new Error(`invalid test config:\n${JSON.stringify(checked.issues, null, 2)}`);
  return checked.result;
}

/** Polls `condition` every 20 ms until it holds or `ms` pass (a generous bound, not a timing assertion). */
export async function eventually<T>(
  condition: () => T | undefined | false,
  ms = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
