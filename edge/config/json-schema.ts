import { z } from 'zod';
import { ProfileFile } from '../../drivers/profiles/file.js';
import { RuleOverrides } from '../rules/spec.js';
import { DeviceEntry, GatewayConfig } from './schema.js';

/**
 * The JSON Schema published for editors (docs/gateway-config.schema.json). Devices are validated
 * one by one at run time (so one bad entry disables only itself), but editors get their full shape.
 */
export function gatewayConfigJsonSchema(): Record<string, unknown> {
  // Rule overrides are checked against the packs after parsing (schema.ts); editors get their shape.
  const forEditors = GatewayConfig.extend({
    devices: z
      .array(
        DeviceEntry.extend({
          profile: z.union([z.string().min(1), ProfileFile]),
          rules: RuleOverrides.optional(),
        }),
      )
      .default([]),
    rules: z
      .object({ site: RuleOverrides.default({}) })
      .strict()
      .prefault({}),
  });
  return {
    ...z.toJSONSchema(forEditors, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://doorstep.invalid/schemas/gateway-config.schema.json',
    title: 'doorstep gateway configuration',
  };
}
