import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { startSimSite } from '../../drivers/sim/site.js';
import { freePort } from '../support/net.js';
import { api, enrollGateway, startDoorstep } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { EDGE_UNIT, readUnitCommand } from '../support/unit.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ADMIN: [string, string] = ['admin', 'correct horse battery'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
const dir = tempDir('doorstep-unit-');
after(() => dir.dispose());

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

  it("a gateway with an uplink, under the unit's flags, syncs batches into a real cloud and stays up", async () => {
    // The same node flags and Environment as the unit, on the repository's sources (tsx) rather
    // than a built bundle: the flash test and the memory benchmark run the built bundle.
    const { node, flags } = unitNodeFlags();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/`;
    writeFileSync(
      join(dir.path, 'cloud.yaml'),
      stringify({
        district: { slug: 'pudong', name: '浦东新区' },
        http: { host: '127.0.0.1', port },
        storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
        bootstrap: {
          admin: { username: ADMIN[0], password: ADMIN[1] },
          sites: [
            { path: 'pudong/zhangjiang', name: '张江镇' },
            { path: 'pudong/zhangjiang/lane-100', name: '100 弄' },
          ],
        },
        log: { level: 'warn' },
      }),
    );
    const cloud = startDoorstep(['cloud', '--config', join(dir.path, 'cloud.yaml')]);
    const site = await startSimSite({
      tcp: [{ name: 'lane', devices: [{ id: 'smoke-a', profile: 'smoke-status-register', unitId: 1 }] }],
    });
    let edge: ChildProcess | undefined;
    try {
      await cloud.waitFor(/doorstep cloud listening on /);
      const { secret } = await enrollGateway(base, ADMIN, { id: 'gw-unit', site: SITE });
      writeFileSync(join(dir.path, 'gw.secret'), secret, { mode: 0o600 });
      writeFileSync(
        join(dir.path, 'gateway.yaml'),
        stringify({
          gateway: { id: 'gw-unit', site: SITE },
          buses: [{ id: 'lan', type: 'tcp', timeoutMs: 500 }],
          devices: [
            {
              id: 'smoke-a',
              bus: 'lan',
              profile: 'smoke-status-register',
              host: '127.0.0.1',
              port: site.tcp[0]!.port,
              unitId: 1,
              location: '1号楼 楼道',
            },
          ],
          storage: { dataDir: dir.path },
          broker: { port: 0 },
          uplink: { url: base, credentialsFile: join(dir.path, 'gw.secret'), intervalMs: 300 },
          health: { port: 0 },
          log: { level: 'warn' },
        }),
      );
      const { env } = readUnitCommand(EDGE_UNIT);
      const child = spawn(
        node,
        [...flags, '--import', 'tsx', 'bin/doorstep.ts', 'edge', '--config', join(dir.path, 'gateway.yaml')],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
      );
      edge = child;
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const deadline = Date.now() + 90_000;
      let acked = 0;
      let health = '';
      while (acked < 2) {
        assert.ok(child.exitCode === null && child.signalCode === null, `the gateway exited: ${err}`);
        assert.ok(Date.now() < deadline, `${acked} batch(es) acknowledged: ${err}`);
        await new Promise((r) => setTimeout(r, 250));
        health ||= /health (http:\/\/\S+\/health)/.exec(err)?.[1] ?? '';
        if (!health) continue;
        // A refused connection (the gateway just died) is judged by the exit check above.
        const h = (await fetch(health)
          .then((r) => r.json())
          .catch(() => ({}))) as { uplink?: { batches?: { acked?: number } } };
        acked = h.uplink?.batches?.acked ?? 0;
      }
      const readings = await api<{ items: unknown[] }>(base, 'GET', '/v1/readings?gateway=gw-unit&limit=5', {
        token: (await api<{ token: string }>(base, 'POST', '/v1/api-tokens', { basic: ADMIN, json: {} })).body
          .token,
      });
      assert.ok(readings.body.items.length > 0, 'readings of gw-unit are in the cloud');
    } finally {
      if (edge && edge.exitCode === null && edge.signalCode === null) {
        const exited = once(edge, 'exit');
        edge.kill('SIGTERM');
        await exited;
      }
      await cloud.stop();
      await site.stop();
    }
  });

  it('the pipeline benchmark measures under the same flags', () => {
    const bench = readFileSync(new URL('../bench/edge-pipeline.bench.ts', import.meta.url), 'utf8');
    const declared = /^\/\/ bench-node-flags: (.*)$/m.exec(bench)?.[1]?.split(' ');
    assert.deepEqual(declared, unitNodeFlags().flags);
  });
});
