/** Writes docs/gateway-config.schema.json; test/edge/config/config.test.ts checks it is current. */
import { writeFileSync } from 'node:fs';
import { gatewayConfigJsonSchema } from '../edge/config/json-schema.js';

export function renderGatewayConfigSchema(): string {
  return `${JSON.stringify(gatewayConfigJsonSchema(), null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/gateway-config.schema.json', import.meta.url), renderGatewayConfigSchema());
  console.log('docs/gateway-config.schema.json written');
}
