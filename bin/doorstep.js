#!/usr/bin/env node
// Installed entry point: runs the built JavaScript (npm run build writes dist/).
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin/doorstep.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    'doorstep: not built yet — run `npm run build` first (or `npx tsx bin/doorstep.ts` from a checkout)\n',
  );
  process.exit(1);
}
await import(built.href);
