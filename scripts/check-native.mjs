#!/usr/bin/env node
// Fails loudly when a native addon did not build or load: better-sqlite3 (compiled from source),
// zeromq and serialport's bindings (prebuilt binaries shipped in their packages).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const problems = [];
try {
  const Database = require('better-sqlite3');
  const db = new Database(':memory:');
  db.prepare('select sqlite_version() as v').get();
  db.close();
} catch (e) {
  problems.push(`better-sqlite3: ${e.message}`);
}
try {
  const zmq = await import('zeromq');
  const sock = new zmq.Publisher();
  sock.close();
} catch (e) {
  problems.push(`zeromq: ${e.message}`);
}
try {
  const { autoDetect } = await import('@serialport/bindings-cpp');
  if (typeof autoDetect().open !== 'function') throw new Error('no open() in the binding');
} catch (e) {
  problems.push(`@serialport/bindings-cpp: ${e.message}`);
}
if (problems.length > 0) {
  console.error(`native addons missing:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('native addons: better-sqlite3, zeromq, @serialport/bindings-cpp load');
