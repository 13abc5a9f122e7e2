import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Logger, silentLogger } from '../../common/log.js';
import { hashPassword, SCRYPT_PARAMS } from '../../common/password.js';
import type { Link } from '../../drivers/link/types.js';
import type { AlarmTransition, DeviceLinkState, Reading } from '../../protocol/index.js';
import { formatSitePath } from '../../protocol/index.js';
import type { GatewayCommand } from '../broker/commands.js';
import { GatewayPublisher } from '../broker/gateway-publisher.js';
import type { LocalBroker } from '../broker/local-broker.js';
import type { GatewayConfigResult } from '../config/load.js';
import type { Bus } from '../config/schema.js';
import { faultPoint } from '../fault.js';
import { SqliteOutbox } from '../outbox/sqlite.js';
import type { Outbox } from '../outbox/types.js';
import { RuleEngine } from '../rules/engine/engine.js';
import { OutboxRuleStateStore } from '../rules/engine/sqlite-store.js';
import { LocalActions } from './actions.js';
import { ActiveAlarms } from './active-alarms.js';
import { type GatewayHealthSnapshot, HealthServer } from './health-server.js';
import { reportInventory } from './inventory.js';
import { resolveRules, telemetryFilter } from './plan.js';
import { createSource, type ReadingSource } from './sources.js';
import { TelemetryBuffer } from './telemetry-buffer.js';
import { EDGE_VERSION } from './version.js';

export { EDGE_VERSION };

/** What the composition root needs from outside; everything has a production default. */
export interface EdgeDeps {
  logger?: Logger;
  now?: () => number;
  /**
   * Outbox factory (default: SqliteOutbox in storage.dataDir). Rule state lives in the outbox too,
   * so each alarm commits with the state that decided it.
   */
  openOutbox?: (config: GatewayConfigResult['config']) => Outbox;
  /** For tests: open a "serial" bus on a pty or memory link instead of its configured port. */
  createSerialLink?: (bus: Extract<Bus, { port: string }>) => Link;
  /** Extra components started last and stopped first (the uplink). */
  extensions?: EdgeExtension[];
}

/** A component plugged into the gateway after the core (the uplink is one). */
export interface EdgeExtension {
  name: string;
  start(edge: Edge): Promise<void>;
  stop(): Promise<void>;
  /** Called after every alarm transition is on disk (e.g. wake the uplink). */
  onAlarm?(transition: AlarmTransition): void;
  health?(): object;
}

/** A command from local staff (MQTT) or from the cloud (downlink). */
export type EdgeCommand = GatewayCommand & { source: 'local' | 'cloud'; id?: string };

export interface Edge {
  readonly gatewayId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies a new configuration (SIGHUP) without losing buffered data or alarm state. */
  reload(next: GatewayConfigResult): Promise<void>;
  command(cmd: EdgeCommand): Promise<{ ok: boolean; error?: string }>;
  health(): GatewayHealthSnapshot;
  onTransition(listener: (t: AlarmTransition) => void): () => void;
  onDeviceState(listener: (s: DeviceLinkState) => void): () => void;
  /** Every batch of readings as the sources deliver them, once the rules have seen it. */
  onReadings(listener: (readings: Reading[]) => void): () => void;
  readonly outbox: Outbox;
  brokerAddress(): { host: string; port: number } | undefined;
  healthAddress(): { host: string; port: number } | undefined;
}

/**
 * The gateway's composition root (docs/architecture.md "composition roots"): wires sources → rules → outbox →
 * local broker and actions, and does no I/O until start(). Components start in order and stop in
 * reverse. Acquisition and local alarms never depend on the uplink (invariant 2).
 */
export function buildEdge(initial: GatewayConfigResult, deps: EdgeDeps = {}): Edge {
  let current = initial;
  const config = () => current.config;
  const gatewayId = initial.config.gateway.id;
  const now = deps.now ?? Date.now;
  const logger = (deps.logger ?? silentLogger()).child({
    svc: 'edge',
    gateway: gatewayId,
    site: formatSitePath(initial.config.gateway.site),
  });
  const startedAt = now();
  const dataDir = initial.config.storage.dataDir;

  const outbox =
    deps.openOutbox?.(initial.config) ??
    new SqliteOutbox({ path: join(dataDir, 'outbox.db'), config: initial.config.outbox, logger });
  // rules.db: where gateways before one-file persistence kept rule state; migrated at start.
  const ruleStore = new OutboxRuleStateStore(outbox, { legacyFile: join(dataDir, 'rules.db'), logger });
  const resolved = resolveRules(initial.config);
  let ruleProblems = resolved.problems;
  const engine = new RuleEngine({ gateway: gatewayId, devices: resolved.devices, store: ruleStore, logger });

  // MQTT-native sensors reach the gateway through its own broker, as an internal client.
  const internalUser = { username: 'doorstep-internal', password: randomBytes(18).toString('base64url') };
  let broker: LocalBroker | undefined;
  let publisher: GatewayPublisher | undefined;
  let stopCommands: (() => Promise<void>) | undefined;

  const transitionListeners = new Set<(t: AlarmTransition) => void>();
  const stateListeners = new Set<(s: DeviceLinkState) => void>();
  const deviceStates = new Map<string, DeviceLinkState>();
  const transitionsByState: Record<string, number> = { raised: 0, cleared: 0, reset: 0 };
  let readingsEvaluated = 0;
  let sources: ReadingSource[] = [];
  const extensions = deps.extensions ?? [];
  let healthServer: HealthServer | undefined;
  let running = false;

  const putEvent = (event: { kind: string } & Record<string, unknown>, ts = now()) => {
    try {
      outbox.put([{ class: 'event', payload: event, ts }]);
    } catch (error) {
      logger.error({ err: error, event: event.kind }, 'outbox refused an event');
    }
  };

  // Each flush also records when it happened (same transaction, no extra fsync): after a kill -9
  // the next start knows how long telemetry had been only in memory (see README "What kill -9 costs").
  const telemetry = new TelemetryBuffer({
    flushIntervalMs: initial.config.telemetry.flushIntervalMs,
    write: (readings) =>
      outbox.put(
        readings.map((r) => ({ class: 'telemetry' as const, payload: r, ts: r.ts })),
        {
          set: [{ key: TELEMETRY_MARK, value: JSON.stringify({ at: now(), rows: readings.length }) }],
          remove: [],
          critical: false,
        },
      ),
    logger,
  });
  let uncleanShutdown: UncleanShutdown | undefined;
  let filter = telemetryFilter(initial.config);

  const activeAlarms = new ActiveAlarms(join(dataDir, 'active-alarms.json'), logger);

  const actions = new LocalActions(initial.config.actions, {
    write: async (device, command) => {
      const source = sources.find((s) => s.devices().includes(device));
      if (!source?.write) throw new Error(`device ${device} is not on a Modbus bus of this gateway`);
      await source.write(device, command);
    },
    publish: async (topic, payload, qos) => {
      if (!broker) throw new Error('no local broker configured');
      await broker.publish({ topic, payload, qos });
    },
    record: (result) => putEvent({ kind: 'action_result', ...result }, result.ts),
    now,
    logger,
  });

  /**
   * aedes 1.2 drops a QoS 1 message when a QoS 0 message reaches the same client in the same tick
   * (moscajs/aedes#994, open upstream): a subscriber to readings and alarms would lose the alarm the
   * readings raised. QoS 1 publications (alarms, device states) run one after another on this chain,
   * and readings go out only after what is on it, a tick later.
   */
  let qos1Chain: Promise<unknown> = Promise.resolve();
  const afterQos1 = (publish: () => Promise<void> | undefined, failure: string) => {
    qos1Chain = qos1Chain.then(publish).catch((error) => logger.warn({ err: error }, failure));
  };

  // The engine announces a transition after it committed it to the outbox together with the rule
  // state that decided it (one transaction, synchronous=FULL) — or, when the disk refused even the
  // reserve, at once while it retries the write every second: a siren must not wait for a disk.
  engine.transitions.subscribe((t) => {
    transitionsByState[t.state] = (transitionsByState[t.state] ?? 0) + 1;
    logger.warn(
      { alarm: t.id, device: t.device, type: t.type, state: t.state, test: t.test },
      `alarm ${t.state}`,
    );
    activeAlarms.apply(t);
    actions.handle(t);
    afterQos1(() => publisher?.publishAlarm(t), 'alarm not published locally');
    for (const ext of extensions) ext.onAlarm?.(t);
    for (const l of transitionListeners) l(t);
    faultPoint('alarm:announced');
  });

  /**
   * A gateway in commissioning raises every alarm as a test (the installer is triggering sensors;
   * the town must see them, nobody is paged), as does a device configured with `walkTest`. Handing
   * over (commissioning: false, then SIGHUP or a restart) ends it for every device not in walkTest.
   */
  const applyWalkTest = (
    before: GatewayConfigResult['config'] | undefined,
    next: GatewayConfigResult['config'],
  ) => {
    const all = next.gateway.commissioning;
    for (const d of next.devices) {
      if (all || d.walkTest) engine.setWalkTest(d.id, true);
      else if (before?.gateway.commissioning) engine.setWalkTest(d.id, false);
    }
  };

  const readingListeners = new Set<(readings: Reading[]) => void>();

  const onReadings = (readings: Reading[]) => {
    readingsEvaluated += readings.length;
    engine.ingest(readings);
    telemetry.add(filter.filter(readings));
    for (const l of readingListeners) l(readings);
    // After any alarm this batch raised has gone out (see qos1Chain).
    const published = qos1Chain;
    if (publisher)
      void published
        .then(() => new Promise((r) => setImmediate(r)))
        .then(() => publisher?.publishReadings(readings))
        .catch((error) => logger.debug({ err: error }, 'readings not published'));
  };

  const onDeviceState = (state: DeviceLinkState) => {
    deviceStates.set(state.device, state);
    engine.setLinkState(state);
    putEvent({ kind: 'device_state', state }, state.since);
    afterQos1(() => publisher?.publishDeviceState(state), 'state not published');
    for (const l of stateListeners) l(state);
    statusSoon();
  };

  /**
   * The retained `health` topic of the local broker (edge/broker/README.md): status, problems, each
   * bus's health and devices counted by state — republished when any of it changes (checked soon
   * after each device or bus change and every 10 s), not on every poll.
   */
  let statusTimer: NodeJS.Timeout | undefined;
  let statusInterval: NodeJS.Timeout | undefined;
  let lastStatus = '';
  const publishStatus = () => {
    statusTimer = undefined;
    if (!publisher || !running) return;
    const h = health();
    const counts: Record<string, number> = {};
    for (const d of Object.values(h.devices)) counts[d.state] = (counts[d.state] ?? 0) + 1;
    const body = {
      gateway: gatewayId,
      status: h.status,
      problems: h.problems,
      buses: Object.fromEntries(sources.map((s) => [s.bus, s.health()])),
      devices: counts,
    };
    const key = JSON.stringify(body);
    if (key === lastStatus) return;
    lastStatus = key;
    const p = publisher;
    afterQos1(() => p.publishHealth({ ...body, ts: now() }), 'health not published');
  };
  const statusSoon = () => {
    statusTimer ??= setTimeout(publishStatus, 200);
    statusTimer.unref?.();
  };

  const sourceCtx = () => ({
    logger,
    now,
    ...(deps.createSerialLink ? { createSerialLink: deps.createSerialLink } : {}),
    brokerUrl: () => {
      const a = broker?.address();
      return a ? `mqtt://${a.host}:${a.port}` : 'mqtt://127.0.0.1:1883';
    },
    brokerCredentials: internalUser,
  });

  const buildSources = async (cfg: GatewayConfigResult['config'], only?: Set<string>) => {
    const built: ReadingSource[] = [];
    for (const bus of cfg.buses) {
      if (only && !only.has(bus.id)) continue;
      const devices = cfg.devices.filter((d) => d.bus === bus.id && d.enabled);
      if (devices.length === 0) continue;
      const source = await createSource(bus, devices, sourceCtx());
      source.onReadings(onReadings);
      source.onDeviceState(onDeviceState);
      source.onHealth(() => statusSoon());
      built.push(source);
    }
    return built;
  };

  async function handleCommand(cmd: EdgeCommand): Promise<{ ok: boolean; error?: string }> {
    let outcome: { ok: boolean; error?: string };
    switch (cmd.command) {
      case 'ack':
      case 'silence': {
        const released = actions.silence(cmd.device, cmd.type);
        outcome = { ok: true };
        logger.info(
          { device: cmd.device, type: cmd.type, by: cmd.by, released },
          `${cmd.command} from ${cmd.source}`,
        );
        break;
      }
      case 'reset': {
        const result = engine.reset(cmd.device, cmd.type, cmd.by);
        outcome = result.ok ? { ok: true } : { ok: false, error: result.error?.message ?? 'reset refused' };
        break;
      }
      case 'walk_test': {
        if (!config().devices.some((d) => d.id === cmd.device))
          outcome = { ok: false, error: `no device ${cmd.device}` };
        else {
          engine.setWalkTest(cmd.device, cmd.on);
          outcome = { ok: true };
        }
        break;
      }
    }
    putEvent({
      kind: 'command_result',
      source: cmd.source,
      ...(cmd.id ? { id: cmd.id } : {}),
      command: cmd.command,
      device: cmd.device,
      by: cmd.by,
      ok: outcome.ok,
      ...(outcome.error ? { error: outcome.error } : {}),
    });
    return outcome;
  }

  function health(): GatewayHealthSnapshot {
    const cfg = config();
    const rules = engine.health();
    const outboxStats = outbox.stats();
    const problems: string[] = [];
    const buses: Record<string, object> = {};
    const heard = new Map<string, number>();
    for (const s of sources) {
      const h = s.health();
      const stats = s.stats() as { stalled?: boolean };
      buses[s.bus] = {
        ...stats,
        state: h.state,
        stateSince: h.since,
        ...(h.reason ? { reason: h.reason } : {}),
        ...(h.detail ? { detail: h.detail } : {}),
        ...(h.rejected ? { rejected: h.rejected } : {}),
      };
      // "stalled" is what main.ts's systemd watchdog looks for: a Modbus bus stuck for good is
      // worth a restart; a radio bus hearing only noise is not.
      if (h.state === 'degraded')
        problems.push(`bus ${s.bus} ${stats.stalled ? 'stalled' : 'degraded'}: ${h.detail ?? h.reason}`);
      for (const [device, ts] of s.lastSeen()) heard.set(device, ts);
    }
    const counted = (state: string) => [...deviceStates.values()].filter((s) => s.state === state).length;
    const offline = counted('offline');
    if (offline > 0) problems.push(`${offline} device(s) offline`);
    const faulty = counted('faulty');
    if (faulty > 0) problems.push(`${faulty} device(s) faulty`);
    const slow = [...deviceStates.values()].filter((s) => s.slow).length;
    if (slow > 0) problems.push(`${slow} device(s) replying late`);
    if (current.disabled.length > 0)
      problems.push(`${current.disabled.length} device entr(ies) invalid and disabled`);
    if (ruleProblems.length > 0) problems.push(`${ruleProblems.length} rule override problem(s)`);
    if (outboxStats.storeOverCap) problems.push('outbox over its cap: oldest telemetry is being dropped');
    const storage = outboxStats.storage;
    if (storage.full)
      problems.push(
        `storage full (${storage.freeBytes ?? '?'} bytes free): alarms use the reserve, oldest telemetry is being dropped`,
      );
    const unsavedAlarms = engine.unsavedTransitions;
    if (unsavedAlarms > 0) problems.push(`${unsavedAlarms} alarm transition(s) not yet on disk; retrying`);
    const ext: Record<string, object> = {};
    for (const e of extensions) if (e.health) ext[e.name] = e.health();
    const uplink = ext.uplink as { consecutiveFailures?: number } | undefined;
    if ((uplink?.consecutiveFailures ?? 0) >= 3)
      problems.push(
        `uplink failing (${uplink?.consecutiveFailures} attempts in a row; data waits in the outbox)`,
      );
    const modem = ext.modem as { state?: string; detail?: string; due?: number } | undefined;
    if (modem?.state === 'failing') problems.push(`modem failing: ${modem.detail ?? 'no detail'}`);
    if ((modem?.due ?? 0) > 0)
      problems.push(`${modem?.due} alarm(s) the cloud does not have are waiting to be texted by the modem`);
    const nodeRed = ext.nodeRed as { enabled?: boolean; running?: boolean } | undefined;
    // With supervisor: systemd the gateway does not know (running is absent) unless it could not prepare it.
    if (nodeRed?.enabled && nodeRed.running === false) problems.push('Node-RED is not running');
    return {
      status: problems.length === 0 ? 'ok' : 'degraded',
      problems,
      gateway: gatewayId,
      site: formatSitePath(cfg.gateway.site),
      commissioning: cfg.gateway.commissioning,
      version: EDGE_VERSION,
      uptimeS: Math.round((now() - startedAt) / 1000),
      buses,
      devices: Object.fromEntries(
        [...deviceStates].map(([id, s]) => {
          const lastSeen = Math.max(s.lastSeen ?? 0, heard.get(id) ?? 0);
          return [
            id,
            {
              state: s.state,
              since: s.since,
              ...(s.reason ? { reason: s.reason } : {}),
              ...(s.detail ? { detail: s.detail } : {}),
              ...(lastSeen > 0 ? { lastSeen } : {}),
              ...(s.slow ? { slow: s.slow } : {}),
            },
          ];
        }),
      ),
      disabledDevices: current.disabled.map((d) => ({ device: d.device, issues: d.issues })),
      ruleProblems,
      rules: {
        open: rules.open.length,
        openAlarms: rules.open.map((o) => ({ device: o.device, type: o.type, phase: o.phase, test: o.test })),
        chattering: rules.chattering.length,
        walkTest: rules.walkTest,
        readingsEvaluated,
        transitions: { ...transitionsByState },
      },
      outbox: outboxStats,
      disk: {
        dataDir,
        freeBytes: storage.freeBytes,
        totalBytes: storage.totalBytes,
        storage_full: storage.full,
        ...(storage.fullSince !== undefined ? { fullSince: storage.fullSince } : {}),
        reserveBytes: storage.reserveBytes,
        reserveHeld: storage.reserveHeld,
        unsavedAlarms,
      },
      ...(uncleanShutdown ? { uncleanShutdown } : {}),
      actions: actions.active(),
      ...(ext.uplink ? { uplink: ext.uplink } : {}),
      ...(ext.nodeRed ? { nodeRed: ext.nodeRed } : {}),
      ...(ext.modem ? { modem: ext.modem } : {}),
    };
  }

  const edge: Edge = {
    gatewayId,
    outbox,
    async start() {
      const cfg = config();
      outbox.open();
      uncleanShutdown = checkPreviousRun(outbox, cfg.telemetry.flushIntervalMs);
      if (uncleanShutdown) {
        logger.warn(uncleanShutdown, 'previous run ended without a clean stop: buffered telemetry lost');
        putEvent({ kind: 'unclean_shutdown', ...uncleanShutdown });
      }
      // Before the engine runs: its first transitions update what was loaded.
      const restored = activeAlarms.load();
      engine.start();
      applyWalkTest(undefined, cfg);
      for (const d of current.disabled)
        logger.error({ device: d.device, issues: d.issues }, 'device entry invalid: device disabled');
      for (const p of ruleProblems) logger.error(p, 'rule override invalid: pack default kept');
      if (cfg.broker) {
        const users = [
          ...cfg.broker.users,
          {
            username: internalUser.username,
            passwordHash: await hashPassword(internalUser.password, SCRYPT_PARAMS.gateway),
            acl: { publish: [], subscribe: ['sensors/#'] },
          },
        ];
        const { LocalBroker } = await import('../broker/local-broker.js');
        broker = new LocalBroker({ gatewayId, config: { ...cfg.broker, users }, logger });
        await broker.start();
        publisher = new GatewayPublisher(broker, { logger });
        for (const t of restored) {
          const p = publisher;
          afterQos1(() => p.restoreActiveAlarm(t), 'active alarm not restored');
        }
        stopCommands = await publisher.onCommand(async (c) => {
          const outcome = await handleCommand({ ...c, source: 'local' });
          return outcome.ok ? { ok: true } : { ok: false, error: outcome.error ?? 'refused' };
        });
      }
      telemetry.start();
      sources = await buildSources(cfg);
      for (const s of sources) await s.start();
      healthServer = new HealthServer(cfg.health, health);
      await healthServer.start();
      markSession(outbox, { startedAt, clean: false }, logger);
      // The device inventory for the cloud's registry, at every start (protocol/inventory.ts).
      reportInventory(outbox, cfg.devices, now(), logger);
      for (const e of extensions) await e.start(edge);
      running = true;
      statusInterval = setInterval(publishStatus, 10_000);
      statusInterval.unref();
      publishStatus();
      logger.info(
        { buses: sources.length, devices: cfg.devices.length, disabled: current.disabled.length },
        'gateway started',
      );
    },
    async stop() {
      if (!running) return;
      running = false;
      clearInterval(statusInterval);
      clearTimeout(statusTimer);
      statusTimer = undefined;
      for (const e of [...extensions].reverse())
        await e.stop().catch((err) => logger.error({ err }, 'stop failed'));
      await healthServer?.stop();
      for (const s of [...sources].reverse())
        await s.stop().catch((err) => logger.error({ err }, 'source stop failed'));
      telemetry.stop(); // flushes what is buffered
      await stopCommands?.();
      await broker?.stop();
      engine.stop();
      markSession(outbox, { startedAt, clean: true, stoppedAt: now() }, logger);
      outbox.close();
      logger.info('gateway stopped');
    },
    async reload(next) {
      const before = current;
      current = next;
      const changed = new Set<string>();
      const signature = (cfg: GatewayConfigResult['config'], bus: string) =>
        JSON.stringify([cfg.buses.find((b) => b.id === bus), cfg.devices.filter((d) => d.bus === bus)]);
      for (const bus of new Set([...before.config.buses, ...next.config.buses].map((b) => b.id)))
        if (signature(before.config, bus) !== signature(next.config, bus)) changed.add(bus);
      for (const s of sources.filter((x) => changed.has(x.bus))) await s.stop();
      const fresh = await buildSources(next.config, changed);
      sources = [...sources.filter((x) => !changed.has(x.bus)), ...fresh];
      const rules = resolveRules(next.config);
      ruleProblems = rules.problems;
      engine.replaceRules(rules.devices);
      applyWalkTest(before.config, next.config);
      actions.replace(next.config.actions);
      filter = telemetryFilter(next.config);
      const ids = new Set(next.config.devices.map((d) => d.id));
      for (const id of [...deviceStates.keys()]) if (!ids.has(id)) deviceStates.delete(id);
      for (const s of fresh) await s.start();
      // A reload is when devices, codes and labels change: the cloud gets the full list again.
      reportInventory(outbox, next.config.devices, now(), logger);
      // commissioning takes effect at once (applyWalkTest above); the rest of `gateway` does not.
      const section = (cfg: GatewayConfigResult['config'], key: string) =>
        JSON.stringify(
          key === 'gateway' ? { ...cfg.gateway, commissioning: undefined } : cfg[key as 'outbox'],
        );
      for (const key of ['outbox', 'broker', 'health', 'storage', 'gateway', 'uplink', 'modem'] as const)
        if (section(before.config, key) !== section(next.config, key))
          logger.warn({ section: key }, `a change of "${key}" takes effect after a restart`);
      logger.info({ busesRestarted: [...changed] }, 'configuration reloaded');
    },
    command: handleCommand,
    health,
    onTransition(listener) {
      transitionListeners.add(listener);
      return () => transitionListeners.delete(listener);
    },
    onDeviceState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    onReadings(listener) {
      readingListeners.add(listener);
      return () => readingListeners.delete(listener);
    },
    brokerAddress: () => (broker ? broker.address() : undefined),
    healthAddress: () => healthServer?.address(),
  };
  return edge;
}

const TELEMETRY_MARK = 'runtime/telemetry-flush';
const SESSION_MARK = 'runtime/session';

/** What a kill -9 (or power loss) of the previous run cost, as far as can be known. */
export interface UncleanShutdown {
  /** When the previous run started. */
  previousStartedAt: number;
  /** The last telemetry flush that reached the outbox (undefined: none in that run). */
  lastFlushAt: number | undefined;
  /**
   * Readings still in memory at the kill are gone: at most one flush interval's worth, collected
   * after lastFlushAt. The size of the last flush is the estimate of how many.
   */
  windowMs: number;
  estimatedReadings: number;
}

function readMark<T>(outbox: Outbox, key: string): T | undefined {
  const row = outbox.loadSideState(key).find((r) => r.key === key);
  if (!row) return undefined;
  try {
    return JSON.parse(row.value) as T;
  } catch {
    return undefined;
  }
}

/** Reads the previous run's session mark: a run that never marked a clean stop ended by a kill. */
function checkPreviousRun(outbox: Outbox, flushIntervalMs: number): UncleanShutdown | undefined {
  const session = readMark<{ startedAt: number; clean: boolean }>(outbox, SESSION_MARK);
  if (!session || session.clean) return undefined;
  const flush = readMark<{ at: number; rows: number }>(outbox, TELEMETRY_MARK);
  const inRun = flush !== undefined && flush.at >= session.startedAt;
  return {
    previousStartedAt: session.startedAt,
    lastFlushAt: inRun ? flush.at : undefined,
    windowMs: flushIntervalMs,
    estimatedReadings: inRun ? flush.rows : 0,
  };
}

function markSession(outbox: Outbox, session: Record<string, unknown>, logger: Logger): void {
  try {
    outbox.put([], { set: [{ key: SESSION_MARK, value: JSON.stringify(session) }], remove: [] });
  } catch (error) {
    logger.warn({ err: error }, 'session mark not written');
  }
}
