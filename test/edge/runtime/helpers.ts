import { get } from 'node:http';
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

/** GET over loopback without keep-alive (each test's server closes at its end). */
export function httpGet(url: string): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** The parts of the gateway's `/health` body the runtime tests read. */
export interface HealthBody {
  status: string;
  problems: string[];
  buses: Record<
    string,
    { state?: string; reason?: string; detail?: string; rejected?: Record<string, number> }
  >;
  devices: Record<
    string,
    { state: string; reason?: string; detail?: string; since: number; lastSeen?: number }
  >;
}
