import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { stringify } from 'yaml';
import { type RunningSimSite, startSimSite } from '../../drivers/sim/site.js';
import type { FaultPoint } from '../../edge/fault.js';
import { freePort } from '../support/net.js';
import {
  type DoorstepProcess,
  enrollGateway,
  startDoorstep,
  writeCloudConfig,
} from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ADMIN: [string, string] = ['admin', 'correct horse battery'];
const SITE = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };

/**
 * kill -9 at every durable step of an alarm's life, on real processes: each smoke detection is
 * followed through four gateway runs, each killed by DOORSTEP_FAULT at the next step —
 * before the decision commits, after it commits (or after it was announced on site), after the
 * cloud stored it but before the outbox was told, and after the outbox was told. 13 detections
 * over four test files (alarm-crash-{1,2,3,4}.test.ts), 52 kills. The steps before the uplink run
 * with a configuration without it (faster start, same decision path). Counted in the cloud: every detection raised exactly once,
 * one case each; and a final clean start raises nothing again.
 */
const STEPS_EVEN: FaultPoint[] = [
  'decision:before-commit',
  'decision:after-commit',
  'uplink:before-ack',
  'uplink:after-ack',
];
const STEPS_ODD: FaultPoint[] = [
  'decision:before-commit',
  'alarm:announced',
  'uplink:before-ack',
  'uplink:after-ack',
];

/**
 * The suite for one share of the detections (each test file runs one share, so each stays within
 * the runner's per-file budget on a loaded machine): `devices` are the sim unit ids of one gateway.
 */
export function crashSuite(name: string, gatewayId: string, devices: number[]): void {
  describe(`kill -9 at each durable step of an alarm (real processes, real cloud): ${name}`, () => {
    const dir = tempDir('doorstep-e2e-crash-');
    let site: RunningSimSite | undefined;
    let cloud: DoorstepProcess | undefined;
    const running = new Set<DoorstepProcess>();
    const cloudConfig = join(dir.path, 'cloud.yaml');
    const gateways = [{ id: gatewayId, devices }];

    /**
     * The `doorstep` CLI bundled once with esbuild (dependencies stay in node_modules): 50-odd gateway
     * starts then cost a module load each instead of a TypeScript transform each, which on a loaded
     * 2-core machine is the difference between one and several minutes. Same code, same process.
     */
    const bundleDir = join(ROOT, 'test/artifacts', `alarm-crash-${process.pid}`);
    const startBundled = (args: string[], env: Record<string, string>) =>
      startDoorstep(args, env, join(bundleDir, 'doorstep.mjs'));

    before(async () => {
      await build({
        entryPoints: [join(ROOT, 'bin/doorstep.ts')],
        bundle: true,
        splitting: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        outdir: bundleDir,
        outExtension: { '.js': '.mjs' },
        logLevel: 'warning',
      });
      // The built-in profile catalogue is data read beside its module (import.meta.url); in the
      // bundle that module is a chunk of bundleDir, so the files go there, as `npm run build`
      // copies them into dist/.
      cpSync(join(ROOT, 'drivers/profiles/catalogue'), bundleDir, {
        recursive: true,
        filter: (source) => !source.endsWith('.ts'),
      });
      // Likewise the default rule packs (edge/rules/packs.ts looks for rule-packs/ beside a chunk).
      cpSync(join(ROOT, 'edge/rules/packs'), join(bundleDir, 'rule-packs'), { recursive: true });
      // The password pool's worker is loaded by file name beside its module (common/password-pool.ts).
      await build({
        entryPoints: [join(ROOT, 'common/password-worker.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        outfile: join(bundleDir, 'password-worker.js'),
        logLevel: 'warning',
      });
      // And the console's files, which @fastify/static serves from static/ beside its module
      // (cloud/console/assets.ts).
      cpSync(join(ROOT, 'cloud/console/static'), join(bundleDir, 'static'), { recursive: true });
      const port = await freePort();
      const cloudUrl = `http://127.0.0.1:${port}/`;
      writeCloudConfig(cloudConfig, { port, db: join(dir.path, 'cloud.db'), admin: ADMIN });
      cloud = startBundled(['cloud', '--config', cloudConfig], {});
      await cloud.waitFor(/doorstep cloud listening on /);
      site = await startSimSite({
        tcp: [
          {
            name: 'lane',
            devices: gateways.flatMap((g) =>
              g.devices.map((n) => ({ id: `smoke-${n}`, profile: 'smoke-status-register', unitId: n })),
            ),
          },
        ],
      });
      const simPort = site.tcp[0]!.port;
      for (const g of gateways) {
        const { secret } = await enrollGateway(cloudUrl, ADMIN, { id: g.id, site: SITE });
        const data = join(dir.path, g.id);
        mkdirSync(data);
        writeFileSync(join(dir.path, `${g.id}.secret`), secret, { mode: 0o600 });
        const config = {
          gateway: { id: g.id, site: SITE },
          buses: [{ id: 'lan', type: 'tcp', timeoutMs: 300 }],
          devices: g.devices.map((n) => ({
            id: `smoke-${n}`,
            bus: 'lan',
            profile: 'smoke-status-register',
            unitId: n,
            host: '127.0.0.1',
            port: simPort,
            location: `${n}号楼`,
            pollIntervals: { critical: 200, normal: 1000, diagnostic: 5000 },
          })),
          storage: { dataDir: data },
          uplink: {
            url: cloudUrl,
            credentialsFile: join(dir.path, `${g.id}.secret`),
            intervalMs: 300,
            requestTimeoutMs: 3000,
          },
          health: { port: 0 },
        };
        writeFileSync(join(dir.path, `${g.id}.yaml`), stringify(config));
        const { uplink: _uplink, ...local } = config;
        writeFileSync(join(dir.path, `${g.id}-local.yaml`), stringify(local));
      }
    });

    after(async () => {
      for (const p of running) await p.stop('SIGKILL');
      await cloud?.stop('SIGKILL');
      await site?.stop();
      dir.dispose();
      rmSync(bundleDir, { recursive: true, force: true });
    });

    /** One gateway run that must end by SIGKILL at `point`. */
    async function runUntilKilled(gateway: string, point: FaultPoint): Promise<void> {
      const config = point.startsWith('uplink:') ? `${gateway}.yaml` : `${gateway}-local.yaml`;
      const edge = startBundled(['edge', '--config', join(dir.path, config)], {
        DOORSTEP_LOG_LEVEL: 'warn',
        DOORSTEP_FAULT: point,
      });
      running.add(edge);
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        edge.child.once('close', (_code, signal) => resolve(signal)),
      );
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), 60_000).unref(),
      );
      const outcome = await Promise.race([exited, timeout]);
      running.delete(edge);
      if (outcome === 'timeout') await edge.stop('SIGKILL');
      assert.equal(outcome, 'SIGKILL', `${gateway} killed at ${point}:\n${edge.output().slice(-3000)}`);
      assert.match(edge.output(), new RegExp(`fault injected at ${point}`));
      if (process.env.DOORSTEP_TEST_VERBOSE) process.stderr.write(`${gateway} killed at ${point}\n`);
    }

    async function lifeOfAlarms(g: (typeof gateways)[number]): Promise<number> {
      let kills = 0;
      for (const [i, n] of g.devices.entries()) {
        site!.devices.get(`smoke-${n}`)!.set({ smoke: true });
        for (const point of i % 2 === 0 ? STEPS_EVEN : STEPS_ODD) {
          await runUntilKilled(g.id, point);
          kills++;
        }
      }
      return kills;
    }

    it(`${devices.length * 4} kills: every smoke detection reaches the cloud exactly once, with one case`, async () => {
      const kills = (await Promise.all(gateways.map((g) => lifeOfAlarms(g)))).reduce((a, b) => a + b, 0);
      assert.equal(kills, devices.length * 4);

      // A clean start of each gateway: the latched alarms are still open and nothing is raised again.
      for (const g of gateways) {
        const edge = startBundled(['edge', '--config', join(dir.path, `${g.id}.yaml`)], {
          DOORSTEP_LOG_LEVEL: 'warn',
        });
        running.add(edge);
        const line = await edge.waitFor(/health http:\/\/\S+\/health/);
        const url = /health (http:\/\/\S+\/health)/.exec(line)![1]!;
        type H = {
          rules: { open: number; readingsEvaluated: number; transitions: Record<string, number> };
          outbox: { pending: { alarm: { rows: number } } };
          uncleanShutdown?: { windowMs: number; previousStartedAt: number };
        };
        const read = async () => (await (await fetch(url)).json()) as H;
        const deadline = Date.now() + 60_000;
        while ((await read()).rules.readingsEvaluated < g.devices.length * 6 * 3 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        const h = await read();
        assert.equal(h.rules.open, g.devices.length, `${g.id}: every detection still open`);
        assert.equal(h.rules.transitions.raised ?? 0, 0, `${g.id}: nothing raised again`);
        assert.equal(
          h.outbox.pending.alarm.rows,
          0,
          `${g.id}: no alarm waiting: ${JSON.stringify(h.rules.transitions)} ${edge.output().slice(-2000)}`,
        );
        // The run before was killed: the start reports the telemetry window it may have cost.
        assert.equal(h.uncleanShutdown?.windowMs, 1000, `${g.id}: unclean shutdown reported`);
        assert.match(edge.output(), /previous run ended without a clean stop/);
        assert.equal(await edge.stop('SIGTERM'), 0);
        running.delete(edge);
      }
      assert.equal(await cloud!.stop('SIGTERM'), 0);

      const db = new Database(join(dir.path, 'cloud.db'), { readonly: true });
      const rows = db
        .prepare('SELECT gateway, device, type, state, alarm_id FROM alarm_transitions ORDER BY id')
        .all() as { gateway: string; device: string; type: string; state: string; alarm_id: string }[];
      const cases = db.prepare('SELECT gateway, data FROM alarm_cases').all() as {
        gateway: string;
        data: string;
      }[];
      db.close();
      const expected = gateways
        .flatMap((g) => g.devices.map((n) => `${g.id}/smoke-${n}/smoke/raised`))
        .sort();
      assert.deepEqual(
        rows.map((r) => `${r.gateway}/${r.device}/${r.type}/${r.state}`).sort(),
        expected,
        '0 lost, 0 duplicated',
      );
      assert.equal(new Set(rows.map((r) => r.alarm_id)).size, expected.length);
      assert.equal(cases.length, expected.length, 'one case per detection');
    });
  });
}
