/**
 * Browser-test harness for the console: a real cloud (buildCloud in-process, SQLite in a temp
 * directory, real clock, 127.0.0.1:0), users of each tier, simulated gateways that post real
 * `/v1/sync` batches, and headless Debian Chromium through playwright-core. Everything is torn down
 * by `stop()`.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { buildCloud, type Cloud } from '../../cloud/build.js';
import { parseCloudConfig } from '../../cloud/config/load.js';
import { openCloudStore } from '../../cloud/store/index.js';
import { type InventoryDevice, packTelemetry, type UplinkBatchInput } from '../../protocol/index.js';
import { basic, bearer, call, enrollGateway, site } from '../cloud/http/harness.js';
import { tempDir } from '../support/tmp.js';

export const ADMIN = { username: 'admin', password: 'console-admin-pass' };
export const PASSWORD = 'console-test-pass';
export const ARTIFACTS = new URL('../artifacts/console/', import.meta.url).pathname;
export const shot = (name: string) => `${ARTIFACTS}${name}.png`;

/** The cookie of a signed-in page, for calling the API the way the browser does. */
export async function sessionCookie(context: BrowserContext): Promise<string> {
  const c = (await context.cookies()).find((x) => x.name === 'ds_session');
  assert.ok(c, 'session cookie set');
  return `ds_session=${c.value}`;
}

export const SITES = [
  { path: 'pudong/zhangjiang', name: '张江镇' },
  { path: 'pudong/zhangjiang/lane-100', name: '100弄' },
  { path: 'pudong/huamu', name: '花木街道' },
  { path: 'pudong/huamu/garden-1', name: '花园一村' },
];

export const USERS = {
  zjDuty: { username: 'zj-duty', scope: 'pudong/zhangjiang', role: 'duty' },
  zjSup: { username: 'zj-sup', scope: 'pudong/zhangjiang', role: 'supervisor' },
  hmDuty: { username: 'hm-duty', scope: 'pudong/huamu', role: 'duty' },
  lockme: { username: 'lock-me', scope: 'pudong/huamu', role: 'viewer' },
  district: { username: 'district-sup', scope: 'pudong', role: 'supervisor' },
} as const;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--autoplay-policy=no-user-gesture-required',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A gateway that posts real sync batches, numbering its batches and rows itself. */
export class SimGateway {
  #batchSeq = 0;
  #seq = 0;
  #generation = 0;
  constructor(
    readonly url: string,
    readonly id: string,
    readonly sitePath: string,
    readonly secret: string,
  ) {}

  async sync(parts: {
    alarms?: {
      id: string;
      device: string;
      type: string;
      severity?: 'critical' | 'major' | 'minor' | 'info';
      state?: 'raised' | 'cleared' | 'reset';
      latched?: boolean;
      ts?: number;
    }[];
    readings?: { device: string; point: string; unit: string; value: number; ts: number }[];
    health?: UplinkBatchInput['health'];
    /** A full device inventory (one part of a new generation; sync version 2). */
    inventory?: InventoryDevice[];
  }) {
    const now = Date.now();
    const batch: UplinkBatchInput = {
      v: parts.inventory ? 2 : 1,
      gateway: this.id,
      site: site(this.sitePath),
      batchSeq: ++this.#batchSeq,
      sentAt: now,
      alarms: (parts.alarms ?? []).map((a) => ({
        seq: ++this.#seq,
        transition: {
          id: a.id,
          gateway: this.id,
          device: a.device,
          type: a.type,
          severity: a.severity ?? 'critical',
          state: a.state ?? 'raised',
          ts: a.ts ?? now,
          latched: a.latched ?? false,
        },
      })),
      events: parts.inventory
        ? [
            {
              seq: ++this.#seq,
              ts: now,
              event: {
                kind: 'inventory',
                generation: ++this.#generation,
                part: 1,
                parts: 1,
                devices: parts.inventory,
              },
            },
          ]
        : [],
      ...(parts.readings?.length
        ? {
            telemetry: packTelemetry(
              parts.readings.map((r) => ({ ...r, seq: ++this.#seq, quality: 'good' as const })),
            ),
          }
        : {}),
      ...(parts.health ? { health: parts.health } : {}),
    };
    const r = await call(this.url, 'POST', '/v1/sync', { auth: bearer(this.secret), json: batch });
    if (r.status !== 200) throw new Error(`sync ${this.id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

export interface ConsoleWorld {
  url: string;
  cloud: Cloud;
  browser: Browser;
  adminToken: string;
  zj: SimGateway;
  hm: SimGateway;
  newPage(opts?: { width?: number; height?: number }): Promise<{ context: BrowserContext; page: Page }>;
  /** Signs in through `base` (default the cloud itself; a proxy in front of it for link tests). */
  signIn(page: Page, username: string, password?: string, base?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startConsoleWorld(): Promise<ConsoleWorld> {
  const dir = tempDir('doorstep-console-');
  mkdirSync(ARTIFACTS, { recursive: true });
  const config = parseCloudConfig({
    district: { slug: 'pudong', name: '浦东新区' },
    http: { host: '127.0.0.1', port: 0, rateLimit: { max: 100_000, timeWindowMs: 60_000 } },
    storage: { kind: 'sqlite', path: join(dir.path, 'cloud.db') },
    bootstrap: { admin: ADMIN, sites: SITES },
    log: { level: 'silent' },
  });
  // A 1.5 s heartbeat: the page calls the board stale after 3 missed beats (+1.5 s, so 6 s), and
  // the frozen-link test waits seconds, not the production 20 s.
  const cloud = buildCloud(config, {
    logger: pino({ level: 'silent' }),
    openStore: openCloudStore,
    console: { pushHeartbeatMs: 1500 },
  });
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  // Chromium starts while the cloud is set up, and the users are created at once: on a loaded
  // machine the setup is a good part of the time a test file has.
  const launching = launchChromium();
  // A launch failure is reported by `await launching` below, not as an unhandled rejection.
  launching.catch(() => undefined);
  try {
    const url = await cloud.start();
    const t = await call(url, 'POST', '/v1/api-tokens', {
      auth: basic(ADMIN.username, ADMIN.password),
      json: {},
    });
    const adminToken = t.body.token as string;
    await Promise.all(
      Object.values(USERS).map(async (u) => {
        const r = await call(url, 'POST', '/v1/users', {
          auth: bearer(adminToken),
          json: { ...u, password: PASSWORD, displayName: u.username },
        });
        if (r.status !== 201) throw new Error(`user ${u.username}: ${r.status} ${JSON.stringify(r.body)}`);
      }),
    );
    const [zjSecret, hmSecret] = await Promise.all([
      enrollGateway(url, adminToken, 'gw-zj', 'pudong/zhangjiang/lane-100'),
      enrollGateway(url, adminToken, 'gw-hm', 'pudong/huamu/garden-1'),
    ]);
    const zj = new SimGateway(url, 'gw-zj', 'pudong/zhangjiang/lane-100', zjSecret);
    const hm = new SimGateway(url, 'gw-hm', 'pudong/huamu/garden-1', hmSecret);
    browser = await launching;
    const b = browser;
    return {
      url,
      cloud,
      browser: b,
      adminToken,
      zj,
      hm,
      async newPage(opts = {}) {
        const context = await b.newContext({
          viewport: { width: opts.width ?? 1280, height: opts.height ?? 860 },
          locale: 'zh-CN',
          timezoneId: 'Asia/Shanghai',
        });
        contexts.push(context);
        const page = await context.newPage();
        return { context, page };
      },
      async signIn(page, username, password = PASSWORD, base = url) {
        await page.goto(`${base}/console`);
        await page.fill('#username', username);
        await page.fill('#password', password);
        await page.click('#signin');
        await page.waitForSelector('#nav-board', { timeout: 10_000 });
      },
      async stop() {
        for (const c of contexts) await c.close().catch(() => undefined);
        await b.close().catch(() => undefined);
        await cloud.stop();
        dir.dispose();
      },
    };
  } catch (error) {
    for (const c of contexts) await c.close().catch(() => undefined);
    // Also when the failure came before Chromium finished starting.
    await launching.then((b) => b.close()).catch(() => undefined);
    await cloud.stop().catch(() => undefined);
    dir.dispose();
    throw error;
  }
}

/**
 * A TCP proxy in front of the cloud that can be frozen: while frozen it stops reading on both sides
 * of every connection (and of new ones) without closing anything, as a NAT or proxy that silently
 * stops forwarding does. Thawing resumes the bytes where they stopped.
 */
export interface FreezableProxy {
  url: string;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezableProxy(target: string): Promise<FreezableProxy> {
  const { port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  /** Bytes read just as the freeze began, delivered in order on thaw. */
  const held: [Socket, Buffer][] = [];
  let frozen = false;
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (frozen) {
        held.push([to, chunk]);
        from.pause();
      } else to.write(chunk);
    });
    from.on('end', () => to.end());
  };
  const server = createServer((client) => {
    const upstream = connect(Number(targetPort), '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      if (frozen) s.pause();
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    thaw() {
      frozen = false;
      for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
      for (const s of sockets) s.resume();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
