import { createServer, type Server } from 'node:http';
import type { Counter, Registry } from 'prom-client';
import type { BusStats } from '../../drivers/bus/types.js';
import { DEVICE_STATES, type DeviceLinkState } from '../../protocol/device.js';
import type { OutboxStats } from '../outbox/types.js';

/** Everything the health endpoint and the metrics read, taken fresh on every request. */
export interface GatewayHealthSnapshot {
  status: 'ok' | 'degraded';
  problems: string[];
  gateway: string;
  site: string;
  /** The site is still being commissioned: every alarm is a test (edge/config gateway.commissioning). */
  commissioning: boolean;
  version: string;
  uptimeS: number;
  buses: Record<string, object>;
  /** Per device: its state (online, faulty, offline …) with reason, words and since; lastSeen advances on every good poll. */
  devices: Record<
    string,
    {
      state: DeviceLinkState['state'];
      reason?: string;
      detail?: string;
      since: number;
      lastSeen?: number;
      slow?: DeviceLinkState['slow'];
    }
  >;
  disabledDevices: { device: string; issues: { path: string; message: string }[] }[];
  ruleProblems: { path: string; message: string }[];
  rules: {
    open: number;
    /** Occurrences not back to normal: pending on-delay, active, clearing or latched. */
    openAlarms: { device: string; type: string; phase: string; test: boolean }[];
    chattering: number;
    walkTest: string[];
    readingsEvaluated: number;
    transitions: Record<string, number>;
  };
  outbox: OutboxStats;
  /** The file system under the data directory (free bytes; `storage_full` while writes fail for lack of space). */
  disk: {
    dataDir: string;
    freeBytes: number | undefined;
    totalBytes: number | undefined;
    storage_full: boolean;
    fullSince?: number;
    reserveBytes: number;
    reserveHeld: number;
    /** Alarm transitions decided but not yet on disk (retried every second). */
    unsavedAlarms: number;
  };
  /** What the previous run left behind when it ended without a clean stop (kill -9, power loss). */
  uncleanShutdown?: object;
  actions: Record<string, string[]>;
  uplink?: object;
  /** The supervised Node-RED child (edge/runtime/node-red.ts), when enabled. */
  nodeRed?: object;
  /** The gateway's 4G modem (edge/modem): state, SIM, registration, texts sent and failed, alarms watched and due. */
  modem?: object;
}

/**
 * Components keep cumulative counts; a Prometheus counter only goes up. Feed it the increase since
 * the last scrape (a component restart that lowers a count is taken as a counter reset).
 */
function counterSetter() {
  const last = new Map<Counter<string>, Map<string, number>>();
  return (counter: Counter<string>, labels: Record<string, string>, value: number): void => {
    const seen = last.get(counter) ?? new Map<string, number>();
    last.set(counter, seen);
    const key = JSON.stringify(labels);
    const previous = seen.get(key) ?? 0;
    if (value >= previous) counter.inc(labels, value - previous);
    else counter.inc(labels, value);
    seen.set(key, value);
  };
}

/**
 * Prometheus metrics of the gateway (own registry, nothing global): per-bus poll latency, timeouts,
 * stall and degraded state, devices by state (and each offline or faulty one with its reason),
 * last seen, slow devices, outbox depth per class, drops, rule evaluations, alarms by state.
 */
export async function createGatewayMetrics(snapshot: () => GatewayHealthSnapshot): Promise<Registry> {
  // Loaded at the first scrape: a gateway nobody scrapes does not carry prom-client.
  const { Counter, Gauge, Registry } = await import('prom-client');
  const registry = new Registry();
  const setCounter = counterSetter();
  const transactions = new Counter({
    name: 'doorstep_bus_transactions_total',
    help: 'Modbus transactions',
    labelNames: ['bus'],
    registers: [registry],
  });
  const timeouts = new Counter({
    name: 'doorstep_bus_timeouts_total',
    help: 'Modbus transactions that timed out',
    labelNames: ['bus'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'doorstep_bus_errors_total',
    help: 'Failed Modbus transactions by error code',
    labelNames: ['bus', 'code'],
    registers: [registry],
  });
  const latency = new Gauge({
    name: 'doorstep_bus_poll_latency_seconds',
    help: 'Poll request-to-reply time',
    labelNames: ['bus', 'quantile'],
    registers: [registry],
  });
  const stalled = new Gauge({
    name: 'doorstep_bus_stalled',
    help: '1 while the bus watchdog reports a stall',
    labelNames: ['bus'],
    registers: [registry],
  });
  const busDegraded = new Gauge({
    name: 'doorstep_bus_degraded',
    help: '1 while the bus delivers no valid frame (reason: the commonest rejection or failure code)',
    labelNames: ['bus', 'reason'],
    registers: [registry],
  });
  const devices = new Gauge({
    name: 'doorstep_devices',
    help: 'Devices by state (online, faulty, offline, unknown, disabled)',
    labelNames: ['state'],
    registers: [registry],
  });
  const deviceDown = new Gauge({
    name: 'doorstep_device_down',
    help: '1 per device that is offline or faulty, labelled with its state and reason code',
    labelNames: ['device', 'state', 'reason'],
    registers: [registry],
  });
  const lastSeen = new Gauge({
    name: 'doorstep_device_last_seen_seconds',
    help: 'When each device last answered or reported (Unix time)',
    labelNames: ['device'],
    registers: [registry],
  });
  const slowDevices = new Gauge({
    name: 'doorstep_device_slow_turnaround_seconds',
    help: 'Measured turnaround of devices reported slow (replying after their timeout)',
    labelNames: ['device'],
    registers: [registry],
  });
  const slowNeeded = new Gauge({
    name: 'doorstep_device_slow_needed_timeout_seconds',
    help: 'The reply timeout a slow device would need',
    labelNames: ['device'],
    registers: [registry],
  });
  const slowLate = new Gauge({
    name: 'doorstep_device_slow_late_replies',
    help: 'Late replies counted for a device reported slow',
    labelNames: ['device'],
    registers: [registry],
  });
  const pendingRows = new Gauge({
    name: 'doorstep_outbox_pending_rows',
    help: 'Rows waiting for the cloud',
    labelNames: ['class'],
    registers: [registry],
  });
  const pendingBytes = new Gauge({
    name: 'doorstep_outbox_pending_bytes',
    help: 'Payload bytes waiting for the cloud',
    labelNames: ['class'],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'doorstep_outbox_dropped_total',
    help: 'Rows dropped to make room or by TTL',
    labelNames: ['class', 'reason'],
    registers: [registry],
  });
  const quarantined = new Gauge({
    name: 'doorstep_outbox_quarantined_rows',
    help: 'Rows the cloud rejected, kept aside',
    registers: [registry],
  });
  const evaluations = new Counter({
    name: 'doorstep_rule_readings_evaluated_total',
    help: 'Readings evaluated by the alarm rules',
    registers: [registry],
  });
  const alarmTransitions = new Counter({
    name: 'doorstep_alarm_transitions_total',
    help: 'Alarm transitions by state',
    labelNames: ['state'],
    registers: [registry],
  });
  const openAlarms = new Gauge({
    name: 'doorstep_alarms_open',
    help: 'Alarm occurrences not back to normal',
    registers: [registry],
  });
  const chattering = new Gauge({
    name: 'doorstep_alarms_chattering',
    help: 'Points flagged as chattering',
    registers: [registry],
  });
  const diskFree = new Gauge({
    name: 'doorstep_disk_free_bytes',
    help: 'Free bytes on the file system of the data directory',
    registers: [registry],
  });
  const storageFull = new Gauge({
    name: 'doorstep_storage_full',
    help: '1 while writes fail for lack of space (alarms use the reserve, telemetry replaces its oldest)',
    registers: [registry],
  });
  // Only when a modem is configured (edge/modem/README.md "Health").
  const modemReady = new Gauge({
    name: 'doorstep_modem_ready',
    help: '1 when the last AT dialogue with the 4G modem worked (SIM ready, registered)',
    registers: [registry],
  });
  const modemTexts = new Counter({
    name: 'doorstep_modem_texts_total',
    help: 'Texts sent through the 4G modem (each may be several SMS parts)',
    registers: [registry],
  });
  const modemFailures = new Counter({
    name: 'doorstep_modem_failures_total',
    help: 'Failed modem checks and text attempts (retried with backoff)',
    registers: [registry],
  });
  const modemDue = new Gauge({
    name: 'doorstep_modem_alarms_due',
    help: 'Alarms the cloud does not have, past the delay and not yet texted to every duty number',
    registers: [registry],
  });
  const healthy = new Gauge({
    name: 'doorstep_gateway_healthy',
    help: '1 when health status is ok',
    registers: [registry],
  });

  // One snapshot per scrape, shared by every metric's collect.
  let current: GatewayHealthSnapshot | undefined;
  const take = () => {
    current ??= snapshot();
    return current;
  };
  const collectAll = () => {
    const s = take();
    healthy.set(s.status === 'ok' ? 1 : 0);
    for (const [bus, raw] of Object.entries(s.buses)) {
      const b = raw as Partial<BusStats>;
      if (b.transactions === undefined) continue;
      setCounter(transactions, { bus }, b.transactions);
      setCounter(timeouts, { bus }, b.timeouts ?? 0);
      for (const [code, n] of Object.entries(b.errorsByCode ?? {})) setCounter(errors, { bus, code }, n);
      if (b.latencyMs) {
        latency.set({ bus, quantile: '0.5' }, b.latencyMs.p50 / 1000);
        latency.set({ bus, quantile: '0.99' }, b.latencyMs.p99 / 1000);
      }
      stalled.set({ bus }, b.stalled ? 1 : 0);
    }
    busDegraded.reset();
    for (const [bus, raw] of Object.entries(s.buses)) {
      const h = raw as { state?: string; reason?: string };
      if (h.state === undefined) continue;
      busDegraded.set(
        { bus, reason: h.state === 'degraded' ? (h.reason ?? '') : '' },
        h.state === 'degraded' ? 1 : 0,
      );
    }
    devices.reset();
    // Every state is present (0 when none), so an alert on faulty devices has a series to watch.
    for (const state of DEVICE_STATES) devices.set({ state }, 0);
    for (const d of Object.values(s.devices)) devices.inc({ state: d.state });
    devices.inc({ state: 'disabled' }, s.disabledDevices.length);
    for (const g of [deviceDown, lastSeen, slowDevices, slowNeeded, slowLate]) g.reset();
    for (const [device, d] of Object.entries(s.devices)) {
      if (d.state === 'offline' || d.state === 'faulty')
        deviceDown.set({ device, state: d.state, reason: d.reason ?? '' }, 1);
      if (d.lastSeen) lastSeen.set({ device }, d.lastSeen / 1000);
      if (d.slow) {
        slowDevices.set({ device }, d.slow.turnaroundMs / 1000);
        slowNeeded.set({ device }, d.slow.neededTimeoutMs / 1000);
        slowLate.set({ device }, d.slow.lateReplies);
      }
    }
    for (const [cls, stats] of Object.entries(s.outbox.pending)) {
      pendingRows.set({ class: cls }, stats.rows);
      pendingBytes.set({ class: cls }, stats.bytes);
    }
    for (const [cls, reasons] of Object.entries(s.outbox.counters.dropped))
      for (const [reason, n] of Object.entries(reasons)) setCounter(dropped, { class: cls, reason }, n);
    quarantined.set(s.outbox.quarantined.rows);
    if (s.disk.freeBytes !== undefined) diskFree.set(s.disk.freeBytes);
    storageFull.set(s.disk.storage_full ? 1 : 0);
    setCounter(evaluations, {}, s.rules.readingsEvaluated);
    for (const [state, n] of Object.entries(s.rules.transitions)) setCounter(alarmTransitions, { state }, n);
    openAlarms.set(s.rules.open);
    chattering.set(s.rules.chattering);
    const modem = s.modem as { state?: string; sent?: number; failed?: number; due?: number } | undefined;
    if (modem) {
      modemReady.set(modem.state === 'ready' ? 1 : 0);
      setCounter(modemTexts, {}, modem.sent ?? 0);
      setCounter(modemFailures, {}, modem.failed ?? 0);
      modemDue.set(modem.due ?? 0);
    }
  };
  const metrics = registry.metrics.bind(registry);
  // Every metric is filled from one snapshot taken at scrape time, before serialisation.
  registry.metrics = async () => {
    current = undefined;
    collectAll();
    return metrics();
  };
  return registry;
}

/** `GET /health` (JSON; 503 when degraded, so a load balancer or monitor sees it) and `GET /metrics`. */
export class HealthServer {
  private server: Server | undefined;
  private registry: Promise<Registry> | undefined;

  constructor(
    private readonly options: { host: string; port: number },
    private readonly snapshot: () => GatewayHealthSnapshot,
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      if (url === '/health') {
        const s = this.snapshot();
        res.writeHead(s.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(s));
      } else if (url === '/metrics') {
        this.registry ??= createGatewayMetrics(this.snapshot);
        this.registry
          .then(async (registry) => {
            const text = await registry.metrics();
            res.writeHead(200, { 'content-type': registry.contentType }).end(text);
          })
          .catch((error: Error) => res.writeHead(500).end(error.message));
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /health or /metrics\n');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
  }

  address(): { host: string; port: number } {
    const a = this.server?.address();
    return typeof a === 'object' && a
      ? { host: a.address, port: a.port }
      : { host: this.options.host, port: 0 };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
