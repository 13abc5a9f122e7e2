/**
 * A district's load, held (issue 13): the harness behind test/bench/district-soak.bench.ts and
 * test/e2e/district-soak.test.ts.
 *
 * Two `doorstep cloud` processes (the shipped command line) on one PostgreSQL; N gateways enrolled
 * through the real API (each its own credential), simulated as lightweight uplinks in this process —
 * plain HTTP clients speaking the real sync protocol (protocol/sync.ts) the way edge/uplink does:
 * one request in flight per gateway, gzip'd JSON batches with an outbox `seq` per row and a
 * `batchSeq` per batch, report-by-exception readings sent every `intervalMs` while any are pending,
 * an empty health-only heartbeat after `heartbeatMs` of silence, health every `healthEveryMs`, a
 * batch resent byte for byte until a 200 acknowledges it (edge/uplink/README.md "Acknowledgement",
 * "Retry and pacing": full-jitter backoff, alarms retried after 0.5–1 s), every new batch starting
 * with every pending alarm. Each request goes to the next instance, round robin.
 *
 * Alarms (critical gas_high, a condition not seen before each time) are put into random gateways'
 * outboxes at a steady rate and timed from the first POST of the batch carrying them to the first
 * 预警 (stage `warn`) the signed webhook receiver (cloud/notify/inbox.ts) gets for their case.
 *
 * Beside the load, the hostile cases of issue 13 run from this process too: sign-in storms with
 * random user names (HTTP Basic on /v1/api-tokens and the console sign-in), batches dated far ahead
 * and a clock offset of -1e308 from enrolled "compromised" gateways, malformed device_state events,
 * a gzip bomb to /v1/enroll, random bearer credentials on /v1/sync, and connections that send a
 * sync body one byte at a time. Each is checked against the answer the docs promise
 * (cloud/README.md), and nothing a hostile request sent may be in the database at the end.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { stringify } from 'yaml';
import { DutyInbox } from '../../cloud/notify/inbox.js';
import { packTelemetry, type UplinkBatchInput } from '../../protocol/index.js';
import { freePort } from './net.js';
import { type PgCluster, RECOMMENDED_WAL_SETTINGS, startPostgres } from './postgres.js';
import { api, type DoorstepProcess, startDoorstep } from './processes.js';
import { tempDir } from './tmp.js';

export interface SoakOptions {
  gateways: number;
  devicesPerGateway: number;
  /** Communities per town (one gateway per community; towns = ceil(gateways / this)). */
  communitiesPerTown: number;
  /** How long the load is offered, ms (the clock starts after every gateway is enrolled). */
  durationMs: number;
  /** Mean time between two readings of one device (report by exception), ms. */
  readingPeriodMs: number;
  /** As edge/uplink: look again after this when caught up; heartbeat and health periods. */
  intervalMs: number;
  heartbeatMs: number;
  healthEveryMs: number;
  /** One alarm every this many ms, from a random gateway. */
  alarmEveryMs: number;
  /** Hostile requests per second of each kind (0 = off), and slow-body connections held open. */
  hostile: {
    signInsPerS: number;
    farFuturePerS: number;
    malformedPerS: number;
    enrollBombPerS: number;
    randomBearerPerS: number;
    slowBodies: number;
    slowByteEveryMs: number;
  };
  /** After the load stops: how long outboxes may take to drain and notices to arrive, ms. */
  drainMs: number;
  rssEveryMs: number;
  /** PostgreSQL with fsync and the recommended WAL sizing (benchmarks) or the tests' fast cluster. */
  durablePostgres: boolean;
  /** Measure the bare PostgreSQL insert rate of the same rows for this long at the end (0 = no). */
  limitSeconds: number;
  log?: (line: string) => void;
}

/** Statuses and codes the docs promise for each hostile kind (cloud/README.md, cloud/auth/README.md). */
/** A sign-in is refused as unknown, or before any hashing when the source or the pool is over its limit. */
const SIGN_IN_REFUSED = ['401 CLOUD_ERR_AUTH', '429 CLOUD_ERR_RATE_LIMITED', '503 CLOUD_ERR_SIGNIN_BUSY'];
export const HOSTILE_EXPECTED: Record<string, readonly string[]> = {
  'sign-in, random user (Basic on /v1/api-tokens)': SIGN_IN_REFUSED,
  'sign-in, random user (console)': SIGN_IN_REFUSED,
  'readings dated 30 years ahead': ['400 CLOUD_ERR_TIME_RANGE'],
  'alarm dated 10 years ahead': ['400 CLOUD_ERR_TIME_RANGE'],
  'health.clockOffsetMs = -1e308': ['400 CLOUD_ERR_VALIDATION'],
  'device_state with device: null': ['400 CLOUD_ERR_VALIDATION'],
  'device_state with state {"$gt": ""}': ['400 CLOUD_ERR_VALIDATION'],
  'gzip bomb to /v1/enroll': ['415 CLOUD_ERR_UNSUPPORTED_MEDIA'],
  'random bearer on /v1/sync': ['401 CLOUD_ERR_AUTH'],
};

export interface SoakResult {
  options: Omit<SoakOptions, 'log'>;
  towns: number;
  enrolSeconds: number;
  /** Seconds the load was offered, and until the outboxes had drained. */
  loadSeconds: number;
  drainSeconds: number;
  readings: {
    offered: number;
    acked: number;
    /** Acknowledged within the load window (for the rate held). */
    ackedInWindow: number;
    stored: number;
    /** Still in a simulated outbox when the drain time ran out. */
    pendingAtEnd: number;
    /** Offered but not in PostgreSQL at the end (still pending ones included). */
    lost: number;
    /** Acknowledged to a gateway but not in PostgreSQL (a broken promise: the gateway deleted them). */
    lostAfterAck: number;
  };
  requests: { sent: number; acked: number; heartbeats: number };
  /** Failures of legitimate traffic by kind (HTTP status and code, network, timeout), plus cloud log errors. */
  errors: Record<string, number>;
  alarms: {
    injected: number;
    acked: number;
    stored: number;
    notified: number;
    /** Acknowledged but no first notice (预警) received before the end. */
    lost: number;
    /** First notices of one case to one recipient beyond the first (same request id counted once). */
    duplicates: number;
    /** Notices for cases this harness never raised. */
    unexpected: number;
    /** First POST of the carrying batch → first 预警 received, ms, sorted. */
    latenciesMs: number[];
  };
  /**
   * Per hostile kind: answers by status and code; `unexpected` = answered otherwise than documented;
   * `unanswered` = timed out or reset (a matter of load, not of what the cloud decided).
   */
  hostile: Record<
    string,
    { sent: number; answers: Record<string, number>; unexpected: number; unanswered: number }
  >;
  slowBodies: { opened: number; cutByServer: number; answers: Record<string, number>; openAtEnd: number };
  /** Rows in PostgreSQL from the hostile gateways (must be 0: every hostile batch was refused). */
  hostileStored: { readings: number; events: number; alarms: number; devices: number };
  /**
   * CPU seconds (user + system, /proc/PID/stat) each cloud instance used while the load ran: with
   * the requests it answered, the cost of one sync whatever else the machine is doing.
   */
  cpu: Array<{ instance: string; seconds: number }>;
  /** The machine's 1-minute load average when the load started and when it stopped (os.loadavg()). */
  loadAverage: { start: number; end: number; cores: number };
  /** RSS of each cloud instance: [seconds since the clock started, MiB]. */
  rss: Array<{ instance: string; samples: Array<[number, number]> }>;
  benchLoopDelayMs: { p50: number; p99: number; max: number };
  /** Bare PostgreSQL insert of the same rows (same table shape, same batch size), rows/s. */
  limit?: { rowsPerS: number; rowsPerBatch: number; batches: number; concurrency: number };
}

const ADMIN: [string, string] = ['admin', 'soak admin password 0123'];
const WEBHOOK_SECRET = 'soak-inbox-secret-0123456789abcdef';
const REQUEST_TIMEOUT_MS = 8000; // edge/uplink requestTimeoutMs
const BATCH_ROWS = 2000; // edge/uplink batch.rows
const DAY = 86_400_000;

/** mulberry32: a seeded generator, so that a run can be repeated. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Least-squares slope of samples [x, y]: y units per x unit. */
export function slope(samples: ReadonlyArray<readonly [number, number]>): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((s, [x]) => s + x, 0) / n;
  const my = samples.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of samples) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface Row {
  seq: number;
  device: string;
  point: string;
  unit: string;
  value: number | boolean;
  quality: 'good';
  ts: number;
}
interface PendingAlarm {
  seq: number;
  key: string;
  transition: Record<string, unknown>;
}
interface SentBatch {
  batchSeq: number;
  body: Buffer;
  rows: number;
  alarmSeqs: Set<number>;
  heartbeat: boolean;
}
interface Gateway {
  id: string;
  site: { district: string; town: string; community: string };
  secret: string;
  seq: number;
  batchSeq: number;
  readings: Row[];
  alarms: PendingAlarm[];
  batch?: SentBatch;
  inFlight: boolean;
  lastSendAt: number;
  lastHealthAt: number;
  nextAttemptAt: number;
  failures: number;
  offsetMs: number;
  startedAt: number;
  usedDevices: Set<number>;
}
interface AlarmRecord {
  gateway: string;
  device: string;
  firstSentAt?: number;
  ackedAt?: number;
  notifiedAt?: number;
}

export async function runDistrictSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const dir = tempDir('doorstep-soak-');
  const clouds: DoorstepProcess[] = [];
  let cluster: PgCluster | undefined;
  const inbox = new DutyInbox({ port: 0, secret: WEBHOOK_SECRET, keep: 50 });
  const slowSockets: Socket[] = [];
  try {
    cluster = await startPostgres(
      options.durablePostgres ? { durable: true, settings: RECOMMENDED_WAL_SETTINGS } : {},
    );
    if (options.durablePostgres) await cluster.preallocateWal(2 * 2 ** 30);
    const url = await cluster.createDatabase('district');
    await inbox.start();
    return await soak(options, log, dir.path, url, inbox, clouds, slowSockets);
  } finally {
    for (const s of slowSockets) s.destroy();
    await Promise.all(clouds.map((c) => c.stop('SIGTERM')));
    await inbox.stop();
    await cluster?.stop();
    dir.dispose();
  }
}

async function soak(
  options: SoakOptions,
  log: (line: string) => void,
  dirPath: string,
  url: string,
  inbox: DutyInbox,
  clouds: DoorstepProcess[],
  slowSockets: Socket[],
): Promise<SoakResult> {
  const rand = random(13);
  const towns = Math.ceil(options.gateways / options.communitiesPerTown);
  const townSlug = (t: number) => `town-${String(t).padStart(2, '0')}`;
  const sites = Array.from({ length: options.gateways }, (_, g) => ({
    district: 'pudong',
    town: townSlug(Math.floor(g / options.communitiesPerTown)),
    community: `c-${String(g).padStart(4, '0')}`,
  }));
  // Three compromised gateways in the first town send the hostile batches.
  const evilSites = [0, 1, 2].map((i) => ({ district: 'pudong', town: townSlug(0), community: `evil-${i}` }));
  const channels = [{ kind: 'webhook', url: inbox.webhookUrl, secret: WEBHOOK_SECRET }];
  const bases: string[] = [];
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const file = join(dirPath, `cloud-${name}.yaml`);
    writeFileSync(
      file,
      stringify({
        district: { slug: 'pudong', name: '浦东新区' },
        // The enrolment of every gateway comes from one address; the per-address limit would
        // refuse it (a real district enrols over weeks). Gateways are limited per credential.
        http: { host: '127.0.0.1', port, rateLimit: { max: 1_000_000, timeWindowMs: 60_000 } },
        storage: { kind: 'postgres', url },
        bootstrap: {
          admin: { username: ADMIN[0], password: ADMIN[1] },
          sites: [
            ...Array.from({ length: towns }, (_, t) => ({ path: `pudong/${townSlug(t)}`, name: `${t} 镇` })),
            ...[...sites, ...evilSites].map((s) => ({
              path: `pudong/${s.town}/${s.community}`,
              name: `${s.community} 居委`,
            })),
          ],
        },
        escalation: {
          // One duty post per town sub-centre, the duty inbox's signed webhook as its channel: the
          // default `critical` policy tells the town's duty at once (cloud/escalation/README.md).
          people: Array.from({ length: towns }, (_, t) => ({
            id: `duty-${t}`,
            name: `${t} 镇值班`,
            site: `pudong/${townSlug(t)}`,
            roles: ['duty'],
            channels,
          })),
        },
        // Errors only: at hundreds of requests a second a warning per slow request would be a
        // load of its own. Every error line is counted as an error of the run.
        log: { level: 'error' },
      }),
    );
    // One at a time: the first creates the schema.
    const proc = startDoorstep(['cloud', '--config', file]);
    clouds.push(proc);
    await proc.waitFor(/doorstep cloud listening on /, 60_000);
    bases.push(`http://127.0.0.1:${port}/`);
  }

  // ── enrolment, through the real API, before the clock starts ────────────────────────────────
  const enrolStart = performance.now();
  const token = await api<{ token: string }>(bases[0]!, 'POST', '/v1/api-tokens', { basic: ADMIN, json: {} });
  if (token.status !== 201) throw new Error(`api token: ${token.status} ${JSON.stringify(token.body)}`);
  const enrolTokens = new Map<string, string>();
  for (let t = 0; t < towns; t++) {
    const uses = sites.filter((s) => s.town === townSlug(t)).length + (t === 0 ? evilSites.length : 0);
    const e = await api<{ token: string }>(bases[t % 2]!, 'POST', '/v1/enrollment-tokens', {
      token: token.body.token,
      json: { scope: `pudong/${townSlug(t)}`, uses, ttlHours: 1 },
    });
    if (e.status !== 201) throw new Error(`enrolment token: ${e.status} ${JSON.stringify(e.body)}`);
    enrolTokens.set(townSlug(t), e.body.token);
  }
  const enrol = async (id: string, site: (typeof sites)[number], n: number) => {
    const r = await api<{ credential: { secret: string } }>(bases[n % 2]!, 'POST', '/v1/enroll', {
      json: { token: enrolTokens.get(site.town), gateway: { id, site } },
    });
    if (r.status !== 201) throw new Error(`enrol ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.credential.secret;
  };
  const secrets: string[] = new Array(options.gateways);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let g = next++; g < options.gateways; g = next++)
        secrets[g] = await enrol(`soak-${String(g).padStart(4, '0')}`, sites[g]!, g);
    }),
  );
  const evil = await Promise.all(
    evilSites.map(async (site, i) => ({
      id: `evil-${i}`,
      site,
      secret: await enrol(`evil-${i}`, site, i),
      seq: 1,
      batchSeq: 1,
    })),
  );
  const enrolSeconds = (performance.now() - enrolStart) / 1000;
  log(`enrolled ${options.gateways} + ${evil.length} gateways in ${enrolSeconds.toFixed(1)} s`);

  // ── the simulated uplinks ────────────────────────────────────────────────────────────────────
  const t0 = performance.now();
  const gateways: Gateway[] = sites.map((site, g) => ({
    id: `soak-${String(g).padStart(4, '0')}`,
    site,
    secret: secrets[g]!,
    seq: 1,
    batchSeq: 1,
    readings: [],
    alarms: [],
    inFlight: false,
    // Spread the gateways' first sends over one interval, as gateways that booted at different times.
    lastSendAt: t0 - rand() * options.intervalMs,
    lastHealthAt: t0 - rand() * options.healthEveryMs,
    nextAttemptAt: 0,
    failures: 0,
    offsetMs: 0,
    startedAt: Date.now() - 3_600_000,
    usedDevices: new Set(),
  }));
  const errors: Record<string, number> = {};
  const countError = (kind: string) => {
    errors[kind] = (errors[kind] ?? 0) + 1;
  };
  const readings = { offered: 0, acked: 0, ackedInWindow: 0 };
  const requests = { sent: 0, acked: 0, heartbeats: 0 };
  const alarms = new Map<string, AlarmRecord>();
  let loadRunning = true;
  let rr = 0;

  const build = (gw: Gateway, now: number): SentBatch => {
    const telemetry = gw.readings.slice(0, BATCH_ROWS);
    const withHealth = now - gw.lastHealthAt >= options.healthEveryMs || gw.readings.length === 0;
    const body: UplinkBatchInput = {
      v: 1,
      gateway: gw.id,
      site: gw.site,
      batchSeq: gw.batchSeq++,
      sentAt: Date.now(),
      alarms: gw.alarms.map((a) => ({ seq: a.seq, transition: a.transition as never })),
      ...(telemetry.length > 0 ? { telemetry: packTelemetry(telemetry) } : {}),
      ...(withHealth
        ? {
            health: {
              software: 'doorstep-soak-sim 1',
              uptimeS: Math.round((Date.now() - gw.startedAt) / 1000),
              outbox: {
                pending: { alarm: gw.alarms.length, event: 0, telemetry: gw.readings.length },
                dropped: {},
                quarantined: 0,
              },
              clockOffsetMs: gw.offsetMs,
            },
          }
        : {}),
    };
    if (withHealth) gw.lastHealthAt = now;
    return {
      batchSeq: body.batchSeq,
      body: gzipSync(JSON.stringify(body)),
      rows: telemetry.length,
      alarmSeqs: new Set(gw.alarms.map((a) => a.seq)),
      heartbeat: telemetry.length === 0 && gw.alarms.length === 0,
    };
  };

  const send = async (gw: Gateway): Promise<void> => {
    gw.inFlight = true;
    const now = performance.now();
    // A saved batch is resent byte for byte, unless a pending alarm is not in it (edge/uplink).
    if (gw.batch && gw.alarms.some((a) => !gw.batch!.alarmSeqs.has(a.seq))) gw.batch = undefined;
    const batch = gw.batch ?? build(gw, now);
    gw.batch = batch;
    gw.lastSendAt = now;
    for (const a of gw.alarms) {
      const record = alarms.get(a.key);
      if (record && record.firstSentAt === undefined) record.firstSentAt = now;
    }
    requests.sent++;
    if (batch.heartbeat) requests.heartbeats++;
    const base = bases[rr++ % bases.length]!;
    const sentWall = Date.now();
    let failure: string | undefined;
    let retryAfterMs = 0;
    try {
      const res = await fetch(new URL('/v1/sync', base), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${gw.secret}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        },
        body: batch.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status === 200) {
        const answer = JSON.parse(text) as { ackedBatchSeq: number; serverTime: number };
        if (answer.ackedBatchSeq !== batch.batchSeq) failure = 'sync 200 for another batch';
        else {
          const receivedWall = Date.now();
          // RFC 5905 §8, as edge/uplink/clock-offset.ts: gateway − cloud.
          gw.offsetMs = Math.round((sentWall + receivedWall) / 2 - answer.serverTime);
          const ackedAt = performance.now();
          gw.readings.splice(0, batch.rows);
          readings.acked += batch.rows;
          if (loadRunning) readings.ackedInWindow += batch.rows;
          gw.alarms = gw.alarms.filter((a) => {
            if (!batch.alarmSeqs.has(a.seq)) return true;
            const record = alarms.get(a.key);
            if (record) record.ackedAt = ackedAt;
            return false;
          });
          gw.batch = undefined;
          gw.failures = 0;
          requests.acked++;
        }
      } else {
        let code = '';
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
        } catch {}
        failure = `sync ${res.status} ${code}`.trim();
        retryAfterMs = Number(res.headers.get('retry-after') ?? 0) * 1000;
        // 400 and 413 abandon the batch (edge/uplink); the rows stay pending, counted as errors.
        if (res.status === 400 || res.status === 413) gw.batch = undefined;
      }
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      failure =
        e.name === 'TimeoutError' ? 'sync timeout (8 s)' : `sync network ${e.cause?.code ?? e.message}`;
    }
    if (failure) {
      countError(failure);
      gw.failures++;
      // edge/uplink backoff: full jitter, 1 s base, 60 s cap, 250 ms floor; alarms 0.5–1, 1–2, 2–4 s.
      const delay =
        gw.alarms.length > 0
          ? Math.min(4000, 1000 * 2 ** (gw.failures - 1)) * (0.5 + rand() / 2)
          : Math.max(250, retryAfterMs, rand() * Math.min(60_000, 1000 * 2 ** (gw.failures - 1)));
      gw.nextAttemptAt = performance.now() + delay;
    }
    gw.inFlight = false;
  };

  const due = (gw: Gateway, now: number) => {
    if (gw.inFlight || now < gw.nextAttemptAt) return false;
    if (gw.alarms.length > 0 || gw.batch) return true;
    const since = now - gw.lastSendAt;
    if (gw.readings.length > 0) return since >= options.intervalMs;
    return loadRunning && since >= options.heartbeatMs;
  };

  // Report by exception: each gateway's devices report at random moments, `readingPeriodMs` apart
  // on average; a third are combustible-gas detectors (%LEL), a third pipe-pressure sensors (MPa),
  // the rest door contacts.
  const TICK_MS = 100;
  const gasDevices = Math.max(1, Math.floor(options.devicesPerGateway / 3));
  let producedUntil = t0;
  const produce = (now: number) => {
    // Expected readings per gateway since the last call (a timer tick is often late under load).
    const perTick = (options.devicesPerGateway * (now - producedUntil)) / options.readingPeriodMs;
    producedUntil = now;
    const ts = Date.now();
    for (const gw of gateways) {
      let n = Math.floor(perTick) + (rand() < perTick % 1 ? 1 : 0);
      for (; n > 0; n--) {
        const d = Math.floor(rand() * options.devicesPerGateway);
        const kind = d < gasDevices ? 0 : d < 2 * gasDevices ? 1 : 2;
        gw.readings.push({
          seq: gw.seq++,
          device: `d-${d}`,
          point: kind === 0 ? 'gas' : kind === 1 ? 'pressure' : 'door',
          unit: kind === 0 ? '%LEL' : kind === 1 ? 'MPa' : '',
          value:
            kind === 0
              ? Math.round(rand() * 50) / 10
              : kind === 1
                ? 0.3 + Math.round(rand() * 100) / 1000
                : rand() < 0.5,
          quality: 'good',
          ts,
        });
        readings.offered++;
      }
    }
  };
  const raiseAlarm = () => {
    // A gas detector not alarmed before (a new condition each time, so each gets its own case).
    for (let tries = 0; tries < 100; tries++) {
      const gw = gateways[Math.floor(rand() * gateways.length)]!;
      const d = Math.floor(rand() * gasDevices);
      if (gw.usedDevices.has(d)) continue;
      gw.usedDevices.add(d);
      const device = `d-${d}`;
      const ts = Date.now();
      const key = `${gw.id}/${device}`;
      gw.alarms.push({
        seq: gw.seq++,
        key,
        transition: {
          id: `${gw.id}.${device}.gas_high.${ts.toString(36)}`,
          gateway: gw.id,
          device,
          point: 'gas',
          type: 'gas_high',
          severity: 'critical',
          state: 'raised',
          value: 52.5,
          ts,
          test: false,
          latched: true,
        },
      });
      alarms.set(key, { gateway: gw.id, device });
      // notify(): at once when idle; during backoff the retry comes forward (edge/uplink).
      if (gw.failures > 0) gw.nextAttemptAt = Math.min(gw.nextAttemptAt, gw.lastSendAt + 1000);
      else if (!gw.inFlight) void send(gw);
      return;
    }
  };

  // ── the webhook: first notices (预警) ─────────────────────────────────────────────────────────
  const perCaseRecipient = new Map<string, number>();
  let unexpected = 0;
  inbox.onMessage((m) => {
    if (m.payload.stage !== 'warn') return;
    const at = performance.now();
    for (const c of m.payload.cases) {
      const record = alarms.get(`${c.gateway}/${c.device}`);
      if (!record) {
        unexpected++;
        continue;
      }
      record.notifiedAt ??= at;
      const k = `${c.id} ${m.payload.recipient.id}`;
      perCaseRecipient.set(k, (perCaseRecipient.get(k) ?? 0) + 1);
    }
  });

  // ── RSS of each instance ────────────────────────────────────────────────────────────────────
  const rss = clouds.map((c, i) => ({
    instance: i === 0 ? 'a' : 'b',
    pid: c.child.pid!,
    samples: [] as Array<[number, number]>,
  }));
  const sampleRss = () => {
    const at = (performance.now() - t0) / 1000;
    for (const r of rss) {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${r.pid}/status`, 'utf8'))?.[1]);
        if (Number.isFinite(kb)) r.samples.push([at, kb / 1024]);
      } catch {}
    }
  };
  sampleRss();
  const cpuSeconds = (pid: number) => {
    try {
      // Fields 14 and 15 (utime, stime) in clock ticks (proc(5)); the command name may hold spaces.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return Number.NaN;
    }
  };
  const cpuAtStart = rss.map((r) => cpuSeconds(r.pid));
  const loadAtStart = loadavg()[0]!;

  // ── hostile traffic ─────────────────────────────────────────────────────────────────────────
  const hostile: SoakResult['hostile'] = {};
  const hostileAnswer = (kind: string, answer: string) => {
    const h = hostile[kind] ?? { sent: 0, answers: {}, unexpected: 0, unanswered: 0 };
    hostile[kind] = h;
    h.sent++;
    h.answers[answer] = (h.answers[answer] ?? 0) + 1;
    if (answer === 'timeout' || answer.startsWith('network ')) h.unanswered++;
    else if (!(HOSTILE_EXPECTED[kind] ?? []).includes(answer)) h.unexpected++;
  };
  const hostileRequest = async (kind: string, path: string, init: RequestInit) => {
    try {
      const res = await fetch(new URL(path, bases[rr++ % bases.length]!), {
        ...init,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let code = '';
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
      } catch {}
      hostileAnswer(kind, `${res.status} ${code}`.trim());
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      hostileAnswer(kind, e.name === 'TimeoutError' ? 'timeout' : `network ${e.cause?.code ?? e.message}`);
    }
  };
  const word = () => Math.floor(rand() * 2 ** 32).toString(36);
  const evilPost = (
    kind: string,
    make: (gw: (typeof evil)[number], ts: number) => Record<string, unknown>,
  ) => {
    const gw = evil[Math.floor(rand() * evil.length)]!;
    const ts = Date.now();
    const body = {
      v: 1,
      gateway: gw.id,
      site: gw.site,
      batchSeq: gw.batchSeq++,
      sentAt: ts,
      ...make(gw, ts),
    };
    return hostileRequest(kind, '/v1/sync', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gw.secret}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync(JSON.stringify(body)),
    });
  };
  const farReadings = (gw: (typeof evil)[number], ts: number, ahead: number) => ({
    telemetry: packTelemetry(
      Array.from({ length: 20 }, (_, i) => ({
        seq: gw.seq++,
        device: `far-${i}`,
        point: 'gas',
        unit: '%LEL',
        value: 1,
        quality: 'good' as const,
        ts: ts + ahead + i,
      })),
    ),
  });
  const bomb = gzipSync(Buffer.alloc(32 * 2 ** 20, 0x20));
  const hostileKinds: Array<{ perS: number; run: () => Promise<void> }> = [
    {
      perS: options.hostile.signInsPerS,
      run: () =>
        rand() < 0.5
          ? hostileRequest('sign-in, random user (Basic on /v1/api-tokens)', '/v1/api-tokens', {
              method: 'POST',
              headers: {
                authorization: `Basic ${Buffer.from(`u${word()}:${word()}`).toString('base64')}`,
                'content-type': 'application/json',
              },
              body: '{}',
            })
          : (async () => {
              const base = bases[rr % bases.length]!;
              await hostileRequest('sign-in, random user (console)', '/console/api/session', {
                method: 'POST',
                headers: { 'content-type': 'application/json', origin: new URL(base).origin },
                body: JSON.stringify({ username: `u${word()}`, password: word() }),
              });
            })(),
    },
    {
      perS: options.hostile.farFuturePerS,
      run: () => {
        const pick = rand();
        if (pick < 0.4)
          return evilPost('readings dated 30 years ahead', (gw, ts) => farReadings(gw, ts, 30 * 365 * DAY));
        if (pick < 0.8)
          return evilPost('alarm dated 10 years ahead', (gw, ts) => ({
            alarms: [
              {
                seq: gw.seq++,
                transition: {
                  id: `${gw.id}.smoke-${word()}.smoke.${ts.toString(36)}`,
                  gateway: gw.id,
                  device: `smoke-${word()}`,
                  type: 'smoke',
                  severity: 'critical',
                  state: 'raised',
                  ts: ts + 10 * 365 * DAY,
                  test: false,
                  latched: true,
                },
              },
            ],
          }));
        return evilPost('health.clockOffsetMs = -1e308', (gw) => ({
          ...farReadings(gw, Date.now(), 0),
          health: {
            software: 'x',
            uptimeS: 1,
            outbox: { pending: {}, dropped: {}, quarantined: 0 },
            clockOffsetMs: -1e308,
          },
        }));
      },
    },
    {
      perS: options.hostile.malformedPerS,
      run: () =>
        rand() < 0.5
          ? evilPost('device_state with device: null', (gw, ts) => ({
              events: [
                {
                  seq: gw.seq++,
                  ts,
                  event: { kind: 'device_state', state: { device: null, state: 'online' } },
                },
              ],
            }))
          : evilPost('device_state with state {"$gt": ""}', (gw, ts) => ({
              events: [{ seq: gw.seq++, ts, event: { kind: 'device_state', state: { $gt: '' } } }],
            })),
    },
    {
      perS: options.hostile.enrollBombPerS,
      run: () =>
        hostileRequest('gzip bomb to /v1/enroll', '/v1/enroll', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
          body: bomb,
        }),
    },
    {
      perS: options.hostile.randomBearerPerS,
      run: () =>
        hostileRequest('random bearer on /v1/sync', '/v1/sync', {
          method: 'POST',
          headers: {
            authorization: `Bearer dsg_${word()}${word()}`,
            'content-type': 'application/json',
            'content-encoding': 'gzip',
          },
          body: gzipSync(JSON.stringify({ v: 1 })),
        }),
    },
  ];
  const hostileInFlight = new Set<Promise<void>>();
  const hostileAcc = hostileKinds.map(() => 0);

  // Slow bodies: an enrolled (compromised) gateway's sync whose body comes one byte at a time.
  const slow = { opened: 0, cutByServer: 0, answers: {} as Record<string, number>, openAtEnd: 0 };
  const slowTimers: NodeJS.Timeout[] = [];
  for (let i = 0; i < options.hostile.slowBodies; i++) {
    const base = new URL(bases[i % bases.length]!);
    const socket = connect(Number(base.port), base.hostname);
    slowSockets.push(socket);
    slow.opened++;
    let answer = '';
    let closedByUs = false;
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (closedByUs) return;
      slow.cutByServer++;
      const status = /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 'no answer';
      slow.answers[status] = (slow.answers[status] ?? 0) + 1;
    });
    (socket as Socket & { markOurs?: () => void }).markOurs = () => {
      closedByUs = true;
    };
    const gw = evil[i % evil.length]!;
    socket.write(
      `POST /v1/sync HTTP/1.1\r\nHost: ${base.host}\r\nAuthorization: Bearer ${gw.secret}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
    );
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(' ');
    }, options.hostile.slowByteEveryMs);
    slowTimers.push(timer);
  }

  // ── the clock ───────────────────────────────────────────────────────────────────────────────
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let nextAlarmAt = t0 + options.alarmEveryMs / 2;
  let nextRssAt = t0 + options.rssEveryMs;
  let lastTick = t0;
  const sending = new Set<Promise<void>>();
  const tick = (now: number) => {
    for (const gw of gateways) {
      if (!due(gw, now)) continue;
      const p = send(gw).finally(() => sending.delete(p));
      sending.add(p);
    }
    if (now >= nextRssAt) {
      sampleRss();
      nextRssAt += options.rssEveryMs;
    }
  };
  while (performance.now() - t0 < options.durationMs) {
    await new Promise((r) => setTimeout(r, TICK_MS));
    const now = performance.now();
    produce(now);
    while (now >= nextAlarmAt) {
      raiseAlarm();
      nextAlarmAt += options.alarmEveryMs;
    }
    const elapsedS = (now - lastTick) / 1000;
    lastTick = now;
    hostileKinds.forEach((k, i) => {
      hostileAcc[i]! += k.perS * elapsedS;
      for (; hostileAcc[i]! >= 1; hostileAcc[i]!--) {
        const p = k.run().finally(() => hostileInFlight.delete(p));
        hostileInFlight.add(p);
      }
    });
    tick(now);
  }
  loadRunning = false;
  const loadSeconds = (performance.now() - t0) / 1000;
  const cpu = rss.map((r, i) => ({ instance: r.instance, seconds: cpuSeconds(r.pid) - cpuAtStart[i]! }));
  const loadAverage = { start: loadAtStart, end: loadavg()[0]!, cores: cpus().length };
  log(`load stopped after ${loadSeconds.toFixed(0)} s; draining`);

  // ── drain: outboxes empty, every notice in, or the drain time ran out ──────────────────────
  const drainStart = performance.now();
  const drained = () =>
    gateways.every((g) => g.readings.length === 0 && g.alarms.length === 0 && !g.inFlight) &&
    [...alarms.values()].every((a) => a.notifiedAt !== undefined);
  while (!drained() && performance.now() - drainStart < options.drainMs) {
    await new Promise((r) => setTimeout(r, TICK_MS));
    tick(performance.now());
  }
  await Promise.all([...sending, ...hostileInFlight]);
  const drainSeconds = (performance.now() - drainStart) / 1000;
  loopDelay.disable();
  sampleRss();
  for (const t of slowTimers) clearInterval(t);
  for (const s of slowSockets) {
    if (!s.destroyed) {
      slow.openAtEnd++;
      (s as Socket & { markOurs?: () => void }).markOurs?.();
      s.destroy();
    }
  }

  // ── what PostgreSQL holds ───────────────────────────────────────────────────────────────────
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let stored = 0;
  let alarmsStored = 0;
  const hostileStored = { readings: 0, events: 0, alarms: 0, devices: 0 };
  let limit: SoakResult['limit'];
  try {
    const count = async (sql: string) => Number((await client.query(sql)).rows[0].n);
    stored = await count(`SELECT count(*) AS n FROM readings WHERE gateway LIKE 'soak-%'`);
    alarmsStored = await count(`SELECT count(*) AS n FROM alarm_transitions WHERE gateway LIKE 'soak-%'`);
    hostileStored.readings = await count(`SELECT count(*) AS n FROM readings WHERE gateway LIKE 'evil-%'`);
    hostileStored.events = await count(`SELECT count(*) AS n FROM events WHERE gateway LIKE 'evil-%'`);
    hostileStored.alarms = await count(
      `SELECT count(*) AS n FROM alarm_transitions WHERE gateway LIKE 'evil-%'`,
    );
    hostileStored.devices = await count(`SELECT count(*) AS n FROM devices WHERE gateway LIKE 'evil-%'`);
    if (options.limitSeconds > 0) {
      // Same rows, same table shape, same batch size as the soak's average batch, from as many
      // connections as both instances' pools hold — with the instances idle.
      const rowsPerBatch = Math.max(
        1,
        Math.round(readings.acked / Math.max(1, requests.acked - requests.heartbeats)),
      );
      limit = await bareInsertRate(url, rowsPerBatch, options.limitSeconds, 20);
    }
  } finally {
    await client.end();
  }

  // ── cloud-side errors (error-level log lines) ─────────────────────────────────────────────────
  for (const [i, c] of clouds.entries())
    for (const line of c.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as {
          level?: number;
          code?: string;
          msg?: string;
          err?: { code?: string };
        };
        if ((entry.level ?? 0) >= 50)
          countError(
            `cloud ${i === 0 ? 'a' : 'b'} logged: ${entry.code ?? entry.err?.code ?? ''} ${entry.msg ?? ''}`.trim(),
          );
      } catch {}
    }

  const records = [...alarms.values()];
  const latenciesMs = records
    .filter((a) => a.notifiedAt !== undefined && a.firstSentAt !== undefined)
    .map((a) => a.notifiedAt! - a.firstSentAt!)
    .sort((a, b) => a - b);
  let duplicates = 0;
  for (const n of perCaseRecipient.values()) duplicates += n - 1;
  const pendingAtEnd = gateways.reduce((s, g) => s + g.readings.length, 0);
  return {
    options: { ...options, log: undefined } as Omit<SoakOptions, 'log'>,
    towns,
    enrolSeconds,
    loadSeconds,
    drainSeconds,
    readings: {
      ...readings,
      stored,
      pendingAtEnd,
      lost: readings.offered - stored,
      lostAfterAck: Math.max(0, readings.acked - stored),
    },
    requests,
    errors,
    alarms: {
      injected: records.length,
      acked: records.filter((a) => a.ackedAt !== undefined).length,
      stored: alarmsStored,
      notified: records.filter((a) => a.notifiedAt !== undefined).length,
      lost: records.filter((a) => a.notifiedAt === undefined).length,
      duplicates,
      unexpected,
      latenciesMs,
    },
    hostile,
    slowBodies: slow,
    hostileStored,
    cpu,
    loadAverage,
    rss: rss.map(({ instance, samples }) => ({ instance, samples })),
    benchLoopDelayMs: {
      p50: loopDelay.percentile(50) / 1e6,
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
    },
    ...(limit ? { limit } : {}),
  };
}

/**
 * The limit beside the figures: the soak's rows inserted straight into a table shaped like
 * `readings` (its indexes and unique key; cloud/store/postgres/schema.ts), one transaction per
 * batch with ON CONFLICT DO NOTHING as the store does, from `concurrency` connections.
 */
async function bareInsertRate(
  url: string,
  rowsPerBatch: number,
  seconds: number,
  concurrency: number,
): Promise<NonNullable<SoakResult['limit']>> {
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  try {
    await pool.query('CREATE TABLE soak_limit (LIKE readings INCLUDING ALL)');
    let seq = 0;
    let rows = 0;
    let batches = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        while (performance.now() - start < seconds * 1000) {
          const values: unknown[] = [];
          const tuples: string[] = [];
          const ts = Date.now();
          for (let i = 0; i < rowsPerBatch; i++) {
            const b = values.length;
            values.push(
              `limit-${w}`,
              ++seq,
              'pudong/town-00/c-0000',
              `d-${i % 100}`,
              'gas',
              '%LEL',
              'good',
              1,
              0.5,
              ts,
              0,
              ts,
            );
            tuples.push(`(${Array.from({ length: 12 }, (_, k) => `$${b + k + 1}`).join(',')})`);
          }
          const c = await pool.connect();
          try {
            await c.query('BEGIN');
            await c.query(
              `INSERT INTO soak_limit (gateway, seq, site_path, device, point, unit, quality, value_kind, value_num, ts, offset_ms, cloud_ts) VALUES ${tuples.join(',')} ON CONFLICT DO NOTHING`,
              values,
            );
            await c.query('COMMIT');
          } finally {
            c.release();
          }
          rows += rowsPerBatch;
          batches++;
        }
      }),
    );
    return { rowsPerS: rows / ((performance.now() - start) / 1000), rowsPerBatch, batches, concurrency };
  } finally {
    await pool.end();
  }
}
