/** Writes docs/profile.schema.json; test/drivers/profiles/files.test.ts checks it is current. */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ProfileFile } from '../drivers/profiles/file.js';

export function renderProfileSchema(): string {
  const schema = {
    ...z.toJSONSchema(ProfileFile, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://doorstep.invalid/schemas/profile.schema.json',
    title: 'doorstep device profile (register map, receiver frame or MQTT JSON)',
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/profile.schema.json', import.meta.url), renderProfileSchema());
  console.log('docs/profile.schema.json written');
}
