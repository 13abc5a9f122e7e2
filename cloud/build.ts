import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../common/log.js';
import { DoorstepError, formatSitePath } from '../protocol/index.js';
import { LifecycleService } from './alarms/lifecycle.js';
import { lazyCaseStore } from './alarms/store/index.js';
import { Accounts } from './auth/accounts.js';
import { Authenticator } from './auth/authenticator.js';
import { bootstrapCloud } from './auth/bootstrap.js';
import type { CloudConfig } from './config/schema.js';
import { type ConsoleOptions, consoleRoutes } from './console/routes.js';
import { lazyConsoleStore } from './console/store.js';
import { createEscalationEngine, type EscalationEngine } from './escalation/index.js';
import { DutyResolver } from './escalation/roster.js';
import { onDutyRoutes } from './escalation/routes.js';
import { startCaseFeed } from './feed/cases.js';
import type { FeedSink } from './feed-sink.js';
import { createApp } from './http/app.js';
import type { CloudServices } from './http/context.js';
import { CloudMetrics } from './http/metrics.js';
import { Router } from './http/router.js';
import { alarmRoutes } from './http/routes/alarms.js';
import { enrollRoutes } from './http/routes/enroll.js';
import { opsRoutes } from './http/routes/ops.js';
import { queryRoutes } from './http/routes/query.js';
import { syncRoutes } from './http/routes/sync.js';
import { userRoutes } from './http/routes/users.js';
import { BulkGate } from './ingest/bulk-gate.js';
import { type CommandQueue, StoreCommandQueue } from './ingest/command-queue.js';
import { Maintenance } from './ingest/maintenance.js';
import { IngestService } from './ingest/service.js';
import { buildNotify, type NotifyService } from './notify/index.js';
import { phoneRoutes } from './phone/routes.js';
import { LinkSigner, phonePath } from './phone/token.js';
import { registryRoutes } from './registry/routes.js';
import type { CloudStore } from './store/port.js';

export interface CloudDeps {
  /** An open store; without one, start() opens `config.storage` (and stop() closes it). */
  store?: CloudStore;
  openStore?: (config: CloudConfig['storage']) => Promise<CloudStore>;
  feed?: FeedSink;
  commands?: CommandQueue;
  /** Without the escalation engine (tests of other parts): case events stay in the log, unread. */
  noEscalation?: boolean;
  clock?: () => number;
  logger?: Logger;
  /** TLS certificate and key contents (main reads the files named in http.tls). */
  tls?: { cert: Buffer | string; key: Buffer | string };
  version?: string;
  /** Console tuning (push poll and heartbeat intervals); tests shorten them. */
  console?: ConsoleOptions;
}

export interface Cloud {
  readonly app: FastifyInstance;
  readonly services: CloudServices;
  /** Notifiers (cloud/notify): `notify.notifier` is what escalation calls; usable after start(). */
  readonly notify: NotifyService;
  /** Opens the store, bootstraps, starts the feed and maintenance, listens. Returns the base URL. */
  start(): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, then stops the rest in reverse order. */
  stop(): Promise<void>;
}

/** The cloud's root logger (common/log.ts: one redaction list for every process). */
export function cloudLogger(level: string): Logger {
  return createLogger({ name: 'doorstep-cloud', level });
}

/** A CloudStore that forwards to the store once start() opened it (routes are wired before). */
function storeHandle(current: () => CloudStore | undefined): CloudStore {
  return new Proxy({} as CloudStore, {
    get(_target, prop) {
      const store = current();
      if (!store) throw new DoorstepError('CLOUD_ERR_UNAVAILABLE', { reason: 'the store is not open' });
      const value = (store as unknown as Record<PropertyKey, unknown>)[prop];
      return typeof value === 'function' ? value.bind(store) : value;
    },
  });
}

/**
 * Logs the database settings that put the cloud's promises at risk (CLOUD_ERR_STORE_SETTING). A
 * warning, never a refusal to start: the operator may know better, and a cloud that is down stores
 * no alarm at all. A failed check is logged and ignored for the same reason.
 */
async function logSettingWarnings(store: CloudStore, log: Logger): Promise<void> {
  try {
    for (const w of (await store.settingWarnings?.()) ?? [])
      log.warn({ code: w.code, ...w.details, hint: w.hint }, w.message);
  } catch (error) {
    log.warn({ err: error }, 'cannot read the database settings');
  }
}

/**
 * The composition root of `doorstep cloud` (docs/architecture.md: composition roots). Wires the components and
 * does no I/O; `start()` brings them up in order, `stop()` takes them down in reverse.
 */
export function buildCloud(config: CloudConfig, deps: CloudDeps = {}): Cloud {
  if (config.http.tls && !deps.tls)
    throw new DoorstepError('CFG_ERR_INVALID', {
      count: 1,
      summary: 'http.tls: certificate and key were not loaded',
    });
  const clock = deps.clock ?? Date.now;
  const log = deps.logger ?? cloudLogger(config.log.level);
  let opened: CloudStore | undefined = deps.store;
  const store = storeHandle(() => opened);
  const metrics = new CloudMetrics();
  // Alarm cases and the command queue live in the store's database (cloud/alarms/README.md).
  const cases = lazyCaseStore(store);
  const commands = deps.commands ?? new StoreCommandQueue(cases, clock);
  const alarms = new LifecycleService({
    cases,
    store,
    clock,
    log: log.child({ svc: 'alarms' }),
  });
  const auth = new Authenticator(store, clock, config.signIn);
  const bulk = new BulkGate();
  const ingest = new IngestService({
    bulk,
    store,
    commands,
    metrics,
    clock,
    log: log.child({ svc: 'ingest' }),
    ...(deps.feed ? { feed: deps.feed } : {}),
    lifecycle: alarms,
    limits: config.ingest,
  });
  const accounts = new Accounts({
    store,
    sessions: lazyConsoleStore(store),
    clock,
    // The sign-in check itself (lockout included), so a wrong current password counts like a wrong sign-in.
    verifyPassword: async (username, password, source) => {
      await auth.password(`Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`, source);
    },
    hashPassword: (plain) => auth.hashPassword(plain),
  });
  const services: CloudServices = {
    config,
    store,
    auth,
    ingest,
    commands,
    metrics,
    clock,
    log,
    alarms,
    accounts,
  };
  const maintenance = new Maintenance(
    store,
    // Rollup and retention go after alarms (the gate's counter) and after bulk ingest.
    {
      intervalMs: config.rollupIntervalMs,
      retention: config.retention,
      background: {
        smallInFlight: bulk.smallInFlight,
        whenBulkIdle: (ms, quietMs) => bulk.whenIdle(ms, quietMs),
      },
    },
    clock,
    log.child({ svc: 'maintenance' }),
  );

  const app = createApp({
    bulk,
    http: config.http,
    logger: log,
    metrics,
    ...(deps.tls ? { tls: deps.tls } : {}),
    onSyncRejected: (gateway, code, status) =>
      ingest.rejected(gateway, code, status === 400 || status === 413),
    // The rate limiter's key for a verified bearer credential: who it is, not what was sent.
    verifiedPrincipal: async (header) => {
      if (/^Bearer dsg_/i.test(header)) return `gateway:${(await auth.gateway(header)).gateway.id}`;
      return `user:${(await auth.apiToken(header)).userId}`;
    },
  });
  app.register(async (instance) => {
    const router = new Router(instance, auth);
    // The town and district console (cloud/console): first, because its onRequest hook turns the
    // session cookie into the bearer credential every route below checks.
    consoleRoutes(router, instance, services, deps.console);
    opsRoutes(router, services, deps.version ?? '0.0.0');
    enrollRoutes(router, services);
    syncRoutes(router, services);
    userRoutes(router, services);
    queryRoutes(router, services);
    registryRoutes(router, services);
    // Duty rosters (cloud/escalation): GET /v1/sites/:path/on-duty.
    onDutyRoutes(router, duty, clock);
    alarmRoutes(router, services);
  });

  // Action links (cloud/phone): every case of a message gets a page link signed for its recipient.
  const links = new LinkSigner(
    config.notify?.links.secret,
    (config.notify?.links.ttlHours ?? 24) * 3_600_000,
    clock,
  );
  const people = new Map(config.escalation.people.map((p) => [p.id, p.name]));
  const consoleStore = lazyConsoleStore(store);
  app.register(async (instance) =>
    phoneRoutes(instance, {
      signer: links,
      alarms,
      personName: (id) => people.get(id),
      siteNames: async (site) =>
        new Map((await store.listSites(site.district)).map((n) => [n.path, n.name] as [string, string])),
      plan: async (c) => {
        const community = formatSitePath(c.site);
        const cs = await consoleStore();
        const marker = (await cs.listMarkers(community)).find(
          (m) => m.gateway === c.gateway && m.device === c.device,
        );
        const plan = marker && (await cs.getPlan(community));
        return plan && marker ? { type: plan.type, data: plan.data, x: marker.x, y: marker.y } : undefined;
      },
      log: log.child({ svc: 'phone' }),
    }),
  );

  const notify = buildNotify(config.notify, {
    store,
    clock,
    log: log.child({ svc: 'notify' }),
    caseLink: (c, recipient) => phonePath(c.id, links.sign(recipient.id, c.id)),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
  });
  const duty = new DutyResolver(config.escalation);
  // The escalation engine needs the open database; it is created in start() and reads the
  // case-event log the lifecycle writes (预警 → 提醒 → 督办), notifying through the notifiers.
  let escalation: EscalationEngine | undefined;
  let unring: (() => void) | undefined;
  let stopCaseFeed: (() => Promise<void>) | undefined;

  let ownsStore = false;
  let feedStarted = false;
  let maintenanceStarted = false;
  return {
    app,
    services,
    notify,
    async start() {
      if (!opened) {
        if (!deps.openStore)
          throw new DoorstepError('CLOUD_ERR_UNAVAILABLE', { reason: 'no store and no openStore' });
        opened = await deps.openStore(config.storage);
        ownsStore = true;
      }
      await logSettingWarnings(store, log);
      if (links.ephemeral)
        log.warn(
          'notify.links.secret is not set: action links in messages stop working when this cloud restarts, and on any other instance',
        );
      await cases.migrate();
      await bootstrapCloud(store, config, clock());
      await notify.start();
      if (!deps.noEscalation) {
        escalation = createEscalationEngine(config.escalation, {
          handle: store.handle(),
          duty,
          notifier: notify.notifier,
          stageMover: alarms,
          cases: alarms,
          events: cases,
          // From a commit to its first notice, bulk telemetry steps aside as for an alarm batch.
          urgent: () => bulk.smallStarted(),
          // The registry's sensor kind: an offline smoke or gas detector is told to its community.
          deviceKind: async (c) =>
            (await store.listDevices(formatSitePath(c.site))).find(
              (d) => d.gateway === c.gateway && d.id === c.device,
            )?.kind,
          clock,
          log: log.child({ svc: 'escalation' }),
        });
        await escalation.start();
        const engine = escalation;
        unring = alarms.onAppend(() => engine.wake());
      }
      if (deps.feed) {
        await deps.feed.start();
        feedStarted = true;
        // Case changes for the tiers, read from the case-event log (cursor `feed`).
        const feedReader = startCaseFeed({
          source: cases,
          feed: deps.feed,
          holder: `feed-${randomUUID()}`,
          clock,
          log: log.child({ svc: 'feed' }),
        });
        const unringFeed = alarms.onAppend(() => feedReader.wake());
        stopCaseFeed = async () => {
          unringFeed();
          await feedReader.stop();
        };
      }
      maintenance.start();
      maintenanceStarted = true;
      await app.listen({ host: config.http.host, port: config.http.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.http.port;
      const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
      return `${config.http.tls ? 'https' : 'http'}://${host}:${port}`;
    },
    async stop() {
      await app.close();
      if (maintenanceStarted) await maintenance.stop();
      await stopCaseFeed?.();
      stopCaseFeed = undefined;
      if (feedStarted) await deps.feed?.stop();
      unring?.();
      unring = undefined;
      await escalation?.stop();
      escalation = undefined;
      await notify.stop();
      await auth.close();
      if (ownsStore) await opened?.close();
      maintenanceStarted = feedStarted = false;
    },
  };
}
