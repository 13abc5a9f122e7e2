import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCloud } from '../cloud/build.js';
import { parseCloudConfig } from '../cloud/config/load.js';
import { DutyInbox, type InboxMessage } from '../cloud/notify/inbox.js';
import { openCloudStore } from '../cloud/store/index.js';
import { writeSecretFile } from '../common/files.js';
import { createLogger } from '../common/log.js';
import { type RunningSimSite, type SimDeviceSpec, startSimSite } from '../drivers/sim/site.js';
import { validateGatewayConfig } from '../edge/config/load.js';
import { buildEdge, type Edge } from '../edge/runtime/gateway.js';
import { resolveRules } from '../edge/runtime/plan.js';
import { uplinkExtension } from '../edge/runtime/uplink-extension.js';
import type { AlarmTransition } from '../protocol/index.js';
import { DemoDutyStaff, demoEscalation } from './demo-evening.js';
import { AlarmLatencyLedger } from './demo-latency.js';

/**
 * `doorstep demo` — what `npm start` runs: a simulated neighbourhood on this machine, all on
 * 127.0.0.1 and in a temporary directory: simulated field devices playing scenarios, two community
 * gateways (each with its own outbox, rules, local broker and health endpoint) and the district
 * cloud on embedded SQLite, which the gateways sync into.
 */

const DISTRICT = { slug: 'pudong', name: '浦东新区' };
const ADMIN = { username: 'admin', password: 'doorstep-demo-admin' };
const DEMO_PASSWORD = 'doorstep-demo';

interface Community {
  gateway: string;
  town: string;
  townName: string;
  community: string;
  communityName: string;
  /** Town letters of the demo's register codes (PD-ZJ-000001 …, gateway config `code`). */
  codePrefix: string;
  devices: (SimDeviceSpec & { location: string; zone?: string; place?: Place })[];
}

/** Building, unit and floor as the registry keeps them (gateway config `building`, `unit`, `floor`). */
interface Place {
  building?: string;
  unit?: string;
  floor?: string;
}

/** Two communities in two towns; scenarios staggered so something happens every minute or so. */
const COMMUNITIES: Community[] = [
  {
    gateway: 'gw-lane-100',
    town: 'zhangjiang',
    townName: '张江镇',
    community: 'lane-100',
    communityName: '100弄',
    codePrefix: 'PD-ZJ',
    devices: [
      {
        id: 'smoke-3-2',
        profile: 'smoke-status-register',
        unitId: 1,
        location: '3号楼2单元 楼道',
        place: { building: '3号楼', unit: '2单元', floor: '1F' },
        zone: 'bldg-3',
        scenario: 'smoke_alarm',
        loop: true,
        scenarioDelayMs: 5_000,
      },
      {
        id: 'smoke-3-3',
        profile: 'smoke-status-register',
        unitId: 2,
        location: '3号楼3单元 楼道',
        place: { building: '3号楼', unit: '3单元', floor: '1F' },
        zone: 'bldg-3',
      },
      {
        id: 'gas-canteen',
        profile: 'gas-status-word-int16',
        unitId: 3,
        location: '社区食堂 厨房',
        place: { building: '社区食堂', floor: '1F' },
        scenario: 'gas_leak',
        loop: true,
        scenarioDelayMs: 20_000,
      },
      {
        id: 'pressure-roof-5',
        profile: 'pressure-int16-decimals',
        unitId: 4,
        location: '5号楼 屋顶水箱',
        place: { building: '5号楼', floor: '屋顶' },
        scenario: 'pressure_drop',
        loop: true,
        scenarioDelayMs: 40_000,
      },
      {
        id: 'door-pump-room',
        profile: 'door-monitor-state',
        unitId: 5,
        location: '地下室 水泵房',
        place: { floor: 'B1' },
        scenario: 'door_held_open',
        loop: true,
        scenarioDelayMs: 10_000,
      },
      { id: 'siren-guard', profile: 'io-module-8di8do', unitId: 6, location: '门卫室 声光报警器' },
    ],
  },
  {
    gateway: 'gw-garden-1',
    town: 'huamu',
    townName: '花木街道',
    community: 'garden-1',
    communityName: '花园一村',
    codePrefix: 'PD-HM',
    devices: [
      {
        id: 'smoke-7-1',
        profile: 'smoke-status-register',
        unitId: 1,
        location: '7号楼1单元 楼道',
        place: { building: '7号楼', unit: '1单元', floor: '1F' },
        scenario: 'low_battery',
        loop: true,
        scenarioDelayMs: 15_000,
      },
      {
        id: 'lane-east',
        profile: 'geomagnetic-parking',
        unitId: 2,
        location: '东侧消防通道',
        scenario: 'fire_lane_occupied',
        loop: true,
      },
      {
        id: 'manhole-12',
        profile: 'manhole-tilt',
        unitId: 3,
        location: '12号楼前 窨井',
        scenario: 'manhole_tilted',
        loop: true,
        scenarioDelayMs: 30_000,
      },
      {
        id: 'smoke-8-2',
        profile: 'smoke-status-register',
        unitId: 4,
        location: '8号楼2单元 楼道',
        place: { building: '8号楼', unit: '2单元', floor: '1F' },
        scenario: 'device_silent',
        loop: true,
        scenarioDelayMs: 25_000,
      },
    ],
  },
];

const STATE_WORDS: Record<AlarmTransition['state'], string> = {
  raised: 'RAISED ',
  cleared: 'cleared',
  reset: 'reset  ',
};

function line(t: AlarmTransition, location: string): string {
  const time = new Date(t.ts).toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
  return `${time}  ${t.gateway.padEnd(12)} ${STATE_WORDS[t.state]} ${t.severity.padEnd(8)} ${t.type.padEnd(20)} ${t.device} (${location})${t.test ? ' [test]' : ''}`;
}

async function api(
  base: string,
  path: string,
  init: { method?: string; token?: string; basic?: [string, string]; json?: unknown },
) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.basic) headers.authorization = `Basic ${Buffer.from(init.basic.join(':')).toString('base64')}`;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, base), {
    method: init.method ?? 'GET',
    headers,
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { duration: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: doorstep demo [--duration SECONDS]\n\nRuns a simulated neighbourhood — devices, two gateways, the district cloud — on 127.0.0.1\nuntil Ctrl-C (or for SECONDS). Everything lives in a temporary directory removed at exit.\n',
    );
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), 'doorstep-demo-'));
  const logger = createLogger({ name: 'doorstep-demo', level: process.env.DOORSTEP_LOG_LEVEL ?? 'error' });
  const sims: RunningSimSite[] = [];
  const edges: Edge[] = [];
  let cloud: ReturnType<typeof buildCloud> | undefined;
  let inbox: DutyInbox | undefined;
  let staff: DemoDutyStaff | undefined;
  const latency = new AlarmLatencyLedger();
  try {
    // ── the duty inbox: where the demo's duty staff receive their notifications ─────────────
    const inboxSecret = 'doorstep-demo-inbox-secret';
    inbox = new DutyInbox({ port: 0, secret: inboxSecret });
    const inboxUrl = await inbox.start();

    // ── the district cloud, embedded SQLite ────────────────────────────────────────────────
    const config = parseCloudConfig({
      notify: { language: 'zh' },
      escalation: demoEscalation(DISTRICT.slug, COMMUNITIES, { url: inbox.webhookUrl, secret: inboxSecret }),
      district: DISTRICT,
      http: { host: '127.0.0.1', port: 0 },
      storage: { kind: 'sqlite', path: join(dir, 'cloud.db') },
      bootstrap: {
        admin: ADMIN,
        sites: COMMUNITIES.flatMap((c) => [
          { path: `${DISTRICT.slug}/${c.town}`, name: c.townName },
          { path: `${DISTRICT.slug}/${c.town}/${c.community}`, name: c.communityName },
        ]),
      },
      log: { level: 'error' },
    });
    cloud = buildCloud(config, { logger: logger.child({ svc: 'cloud' }), openStore: openCloudStore });
    const url = await cloud.start();
    const adminToken = String(
      (
        await api(url, '/v1/api-tokens', {
          method: 'POST',
          basic: [ADMIN.username, ADMIN.password],
          json: {},
        })
      ).token,
    );

    // ── people of each tier, with API tokens ───────────────────────────────────────────────
    const accounts: { tier: string; username: string; scope: string; role: string; token: string }[] = [
      { tier: 'district', username: ADMIN.username, scope: DISTRICT.slug, role: 'admin', token: adminToken },
    ];
    for (const c of COMMUNITIES) {
      for (const [tier, username, scope, role] of [
        ['town', `${c.town}-duty`, `${DISTRICT.slug}/${c.town}`, 'duty'],
        ['community', `${c.community}-duty`, `${DISTRICT.slug}/${c.town}/${c.community}`, 'duty'],
      ] as const) {
        await api(url, '/v1/users', {
          method: 'POST',
          token: adminToken,
          json: { username, password: DEMO_PASSWORD, scope, role },
        });
        const token = String(
          (await api(url, '/v1/api-tokens', { method: 'POST', basic: [username, DEMO_PASSWORD], json: {} }))
            .token,
        );
        accounts.push({ tier, username, scope, role, token });
      }
    }

    // ── the field: simulated devices per community ─────────────────────────────────────────
    for (const c of COMMUNITIES)
      sims.push(await startSimSite({ tcp: [{ name: c.community, devices: c.devices }] }, { logger }));

    // ── the gateways, enrolled with the cloud ──────────────────────────────────────────────
    const locations = new Map<string, string>();
    for (const [i, c] of COMMUNITIES.entries()) {
      const site = { district: DISTRICT.slug, town: c.town, community: c.community };
      const enrollment = String(
        (
          await api(url, '/v1/enrollment-tokens', {
            method: 'POST',
            token: adminToken,
            json: { scope: `${DISTRICT.slug}/${c.town}`, uses: 1, ttlHours: 1 },
          })
        ).token,
      );
      const enrolled = (await api(url, '/v1/enroll', {
        method: 'POST',
        json: { token: enrollment, gateway: { id: c.gateway, site } },
      })) as {
        credential: { secret: string };
      };
      const dataDir = join(dir, c.gateway);
      const credentialsFile = join(dir, `${c.gateway}.secret`);
      writeSecretFile(credentialsFile, enrolled.credential.secret);
      const port = sims[i]!.tcp[0]!.port;
      const checked = validateGatewayConfig({
        gateway: { id: c.gateway, site, name: `${c.townName} ${c.communityName}` },
        buses: [{ id: 'lan', type: 'tcp' }],
        // Labels, register codes and places go to the cloud's device registry with the inventory,
        // so cases, the console and notices name places (社区食堂 厨房), not ids.
        devices: c.devices.map((d, j) => ({
          id: d.id,
          bus: 'lan',
          profile: d.profile,
          host: '127.0.0.1',
          port,
          unitId: d.unitId,
          location: d.location,
          code: `${c.codePrefix}-${String(j + 1).padStart(6, '0')}`,
          installedOn: '2024-05-01',
          ...(d.place ?? {}),
          ...(d.zone ? { zone: d.zone } : {}),
        })),
        rules: {
          site: { door_held_open: { onDelayMs: 30_000 }, fire_lane_occupied: { onDelayMs: 60_000 } },
        },
        storage: { dataDir },
        uplink: { url, credentialsFile, intervalMs: 1000 },
        broker: { port: 0 },
        actions: c.devices.some((d) => d.id === 'siren-guard')
          ? [
              {
                id: 'siren',
                on: { types: ['smoke', 'fire_confirmed', 'gas_high'] },
                do: { kind: 'write', device: 'siren-guard', table: 'coil', address: 0 },
              },
            ]
          : [],
        health: { port: 0 },
      });
      if (!checked.ok) throw new Error(`demo gateway config: ${JSON.stringify(checked.issues)}`);
      mkdirSync(dataDir, { recursive: true });
      const edgeLogger = logger.child({ gateway: c.gateway });
      const edge = buildEdge(checked.result, {
        logger: edgeLogger,
        extensions: [uplinkExtension(checked.result.config.uplink!, checked.result.config, edgeLogger)],
      });
      for (const d of c.devices) {
        locations.set(`${c.gateway}/${d.id}`, d.location);
        const simulated = sims[i]!.devices.get(d.id);
        if (simulated) latency.watch(c.gateway, simulated);
      }
      const rules = resolveRules(checked.result.config).devices;
      const confirmationDelay = (device: string, type: string) =>
        rules.find((r) => r.device === device)?.rules.find((r) => r.type === type)?.onDelayMs ?? 0;
      edge.onTransition((t) => {
        const where = locations.get(`${t.gateway}/${t.device}`) ?? '';
        latency.raised(t, where, confirmationDelay(t.device, t.type));
        process.stdout.write(`${line(t, where)}\n`);
      });
      await edge.start();
      edges.push(edge);
    }

    // ── where to look ──────────────────────────────────────────────────────────────────────
    const out = process.stdout;
    out.write(
      `\ndoorstep demo — a simulated neighbourhood on 127.0.0.1 (data in ${dir}, removed at exit)\n\n`,
    );
    out.write(`  district cloud API  ${url}   (OpenAPI: ${new URL('/openapi.json', url)})\n`);
    // The town and district console (cloud/console): sign in with a password.
    out.write(`  console             ${new URL('/console', url)}   (sign in as:)\n`);
    for (const a of accounts)
      out.write(
        `    ${a.tier.padEnd(9)} ${a.username.padEnd(20)} password ${a.tier === 'district' ? ADMIN.password : DEMO_PASSWORD}\n`,
      );
    out.write(
      '  API tokens (curl -H "authorization: Bearer TOKEN" …/v1/alarms, /v1/health/devices, /v1/readings …):\n',
    );
    for (const a of accounts)
      out.write(
        `    ${a.tier.padEnd(9)} ${a.username.padEnd(20)} ${a.role.padEnd(6)} scope ${a.scope.padEnd(28)} ${a.token}\n`,
      );
    for (const e of edges) {
      const h = e.healthAddress();
      const b = e.brokerAddress();
      out.write(
        `  gateway ${e.gatewayId.padEnd(12)} health http://${h?.host}:${h?.port}/health  metrics …/metrics  MQTT ${b?.host}:${b?.port}\n`,
      );
    }
    out.write(
      `  duty inbox          ${inboxUrl}/   (notifications to the demo's duty staff; also printed below with 📨)\n`,
    );
    out.write(
      '\nA scripted evening: community duty staff acknowledge, give feedback and close what they are told about —\n' +
        'except the canteen gas leak, which nobody answers: it escalates to the town lead (提醒) and the district (督办).\n',
    );
    out.write(
      '\nAlarms as the gateways raise and clear them, and notifications as they arrive (Ctrl-C to stop):\n',
    );
    staff = new DemoDutyStaff(url, accounts, (text) => out.write(`${text}\n`));
    inbox.onMessage((m: InboxMessage) => {
      out.write(`${DemoDutyStaff.describe(m)}\n`);
      for (const l of latency.received(m)) out.write(`${l}\n`);
      staff?.received(m);
    });

    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      if (values.duration) setTimeout(resolve, Number(values.duration) * 1000).unref();
    });
    process.stdout.write(`\n${latency.summary()}\n`);
    return 0;
  } finally {
    staff?.stop();
    for (const e of edges.reverse()) await e.stop().catch(() => undefined);
    for (const s of sims) await s.stop().catch(() => undefined);
    await cloud?.stop().catch(() => undefined);
    await inbox?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
