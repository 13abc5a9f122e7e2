import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EDGE_UNIT, readUnitCommand } from '../support/unit.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The node flags of the shipped unit: everything before the script. */
function unitNodeFlags(): { node: string; flags: string[] } {
  const unit = readUnitCommand(EDGE_UNIT);
  const script = unit.args.findIndex((a) => a.endsWith('/bin/doorstep.js'));
  assert.ok(script >= 0, `the unit runs bin/doorstep.js: ${unit.args.join(' ')}`);
  assert.deepEqual(unit.args.slice(script), [
    '/opt/doorstep/bin/doorstep.js',
    'edge',
    '--config',
    '/etc/doorstep/gateway.yaml',
  ]);
  return {
    node: existsSync(unit.command) ? unit.command : process.execPath,
    flags: unit.args.slice(0, script),
  };
}

function run(node: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('the shipped systemd unit', () => {
  it("its node flags keep WebAssembly and the uplink's HTTP clients working", async () => {
    // --lite-mode and --jitless disable WebAssembly; undici (Node's fetch) compiles llhttp to wasm
    // on its first request and axios loads it: the uplink died 1 s after start, forever.
    const { node, flags } = unitNodeFlags();
    const script = `
      import http from 'node:http';
      import axios from 'axios';
      const server = http.createServer((_, res) => res.end('pong')).listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const url = 'http://127.0.0.1:' + server.address().port + '/';
      const viaFetch = await (await fetch(url)).text();
      const viaAxios = (await axios.get(url)).data;
      console.log(typeof WebAssembly, viaFetch, viaAxios);
      server.close();
    `;
    const result = await run(node, [...flags, '--input-type=module', '-e', script]);
    assert.equal(result.code, 0, result.out);
    assert.equal(result.out.trim(), 'object pong pong');
  });

  it('the pipeline benchmark measures under the same flags', () => {
    const bench = readFileSync(new URL('../bench/edge-pipeline.bench.ts', import.meta.url), 'utf8');
    const declared = /^\/\/ bench-node-flags: (.*)$/m.exec(bench)?.[1]?.split(' ');
    assert.deepEqual(declared, unitNodeFlags().flags);
  });
});
