import { z } from 'zod';
import { DeviceCode, GatewayId, InstallDate, PlanPoint, SitePath, Slug } from '../../protocol/index.js';
import { LocalBrokerConfigSchema } from '../broker/config.js';
import { ModemConfig } from '../modem/config.js';
import { OutboxConfigSchema } from '../outbox/config.js';

/**
 * The gateway configuration: one YAML file per gateway box. This schema is the single source of
 * the TypeScript types, of validation (every problem with its path) and of the JSON Schema
 * published for editors (docs/gateway-config.schema.json).
 */

const Port = z.number().int().min(0).max(65535);

// GB 15322.1: a single (low) set point lies within 1–25 %LEL.
const GAS_LOW_LEGAL = 'outside the legal range 1–25 %LEL of GB 15322.1';

/**
 * Rule overrides as the file holds them: their keys and fields are checked against the rule packs
 * by edge/rules/resolve.ts, all at once and with their paths, and a bad one keeps its pack default
 * (a typo must never switch a fire rule off or disable a detector). Editors get the full shape
 * (json-schema.ts).
 */
export const RuleOverridesUnchecked = z.record(z.string(), z.unknown());

const SerialLine = {
  /** Prefer /dev/serial/by-id/… : ttyUSB numbers change when adapters are replugged. */
  port: z.string().min(1),
  baudRate: z.number().int().positive().default(9600),
  // Modbus over serial line v1.02 §2.5.1: even parity is the default of the standard.
  parity: z.enum(['none', 'even', 'odd']).default('even'),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
};

export const RtuBus = z
  .object({
    id: Slug,
    type: z.literal('rtu'),
    ...SerialLine,
    /** Reply timeout of one transaction on this bus. */
    timeoutMs: z.number().int().min(20).max(10_000).default(300),
    retries: z.number().int().min(0).max(5).default(1),
    /**
     * No valid reply on the whole bus for this long while polls are due: the bus is reported
     * degraded, with the commonest failure (timeout, CRC …) as its reason.
     */
    degradedAfterMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  })
  .strict();

export const TcpBus = z
  .object({
    id: Slug,
    type: z.literal('tcp'),
    timeoutMs: z.number().int().min(20).max(10_000).default(500),
    retries: z.number().int().min(0).max(5).default(1),
    /**
     * No valid reply on the whole bus for this long while polls are due: the bus is reported
     * degraded, with the commonest failure (timeout, CRC …) as its reason.
     */
    degradedAfterMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  })
  .strict();

/** A 433 MHz / LoRa receiver on a UART delivering ASCII or binary frames (drivers/frames). */
export const FramesBus = z
  .object({
    id: Slug,
    type: z.literal('frames'),
    ...SerialLine,
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    codec: z.enum(['ascii', 'binary']),
    /** A detector silent this long is reported offline (wireless sensors report every few minutes). */
    offlineAfterMs: z
      .number()
      .int()
      .min(1000)
      .default(30 * 60_000),
    /**
     * Bytes keep arriving but none forms a valid frame for this long: the bus is reported degraded
     * (bad checksum, unknown format …) and its detectors offline with DRV_ERR_BUS_DEGRADED.
     */
    degradedAfterMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  })
  .strict();

/** MQTT-native sensors publishing into the gateway's local broker (drivers/mqtt). */
export const MqttBus = z
  .object({
    id: Slug,
    type: z.literal('mqtt'),
    offlineAfterMs: z
      .number()
      .int()
      .min(1000)
      .default(30 * 60_000),
  })
  .strict();

export const Bus = z.discriminatedUnion('type', [RtuBus, TcpBus, FramesBus, MqttBus]);
export type Bus = z.infer<typeof Bus>;

export const PollIntervals = z
  .object({
    /**
     * 0 = as fast as the bus allows: the critical block is read again as soon as it was read; the
     * scheduler still serves other blocks by priority ageing (drivers/bus/README.md).
     */
    critical: z.union([z.literal(0), z.number().int().min(100)]).optional(),
    normal: z.number().int().min(100).optional(),
    diagnostic: z.number().int().min(100).optional(),
  })
  .strict();

/**
 * One device. Which address fields it needs depends on its bus: `unitId` on RTU, `host`/`port`
 * (and `unitId`) on TCP, `detector` on a frames receiver, `topicId` for MQTT sensors. Checked after
 * parsing, with the device's path.
 */
export const DeviceEntry = z
  .object({
    id: Slug,
    bus: Slug,
    /**
     * A built-in profile id (`doorstep profile list`), a profile file (a path with "/" or ending in
     * .yaml/.yml/.json; relative to this file), or the profile itself inline (docs/profile.schema.json).
     */
    profile: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    /** Where it is, in the words duty staff use: "3号楼2单元 楼道". */
    location: z.string().min(1).max(120),
    /**
     * The device's code in the district's device register (printed on its label, e.g.
     * `PD-ZJ-000123`). It is what keeps the device's record and history in the cloud when the device
     * moves to another gateway: give it the same code there (cloud/store/README.md "The device
     * registry"). Without one the cloud names the device `<gateway>.<id>`.
     */
    code: DeviceCode.optional(),
    /** Building, unit (单元) and floor, as people say them ("3号楼", "2单元", "1F"): shown with the location. */
    building: z.string().min(1).max(32).optional(),
    unit: z.string().min(1).max(32).optional(),
    floor: z.string().min(1).max(16).optional(),
    /** Where it is on the community plan, as fractions of the plan's width and height (0–1, from the top left). */
    plan: PlanPoint.optional(),
    /** When it was installed (YYYY-MM-DD). */
    installedOn: InstallDate.optional(),
    unitId: z.number().int().min(1).max(247).optional(),
    host: z.string().min(1).optional(),
    port: Port.optional(),
    /** The detector id the wireless receiver reports (the ASCII frame's detector field, the binary frame's address). */
    detector: z
      .union([
        z.number().int().min(0).max(0xffffffff),
        z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be a number or an alphanumeric id (A-Z, a-z, 0-9, _ and -)'),
      ])
      .optional(),
    topicId: z.string().min(1).max(64).optional(),
    pollIntervals: PollIntervals.optional(),
    /**
     * Modbus RTU: how long the bus stays closed after this device timed out, so a late reply is
     * discarded instead of answering the next request (default: the bus timeoutMs; never below
     * t3.5). Raise it for a device that answers very late; the real fix is a longer timeout.
     */
    lateReplyGuardMs: z.number().int().min(0).max(30_000).optional(),
    /** Devices of one kind in one zone confirm each other's fire alarms (GB 50116-2013 §4.1.6). */
    zone: Slug.optional(),
    /** Per-device figures of the default rule pack. */
    gasLowSetPointLel: z.number().min(1, GAS_LOW_LEGAL).max(25, GAS_LOW_LEGAL).optional(),
    pressureSpanMpa: z.number().positive().optional(),
    heartbeatPeriodMs: z.number().int().positive().optional(),
    /** By alarm type (RuleOverrides, edge/rules/README.md). Checked by edge/rules/resolve.ts, not here:
     * a bad override keeps its pack default and is reported; it never disables the device. */
    rules: RuleOverridesUnchecked.optional(),
    /** Start in walk-test mode: alarms are marked as tests (commissioning). */
    walkTest: z.boolean().default(false),
    enabled: z.boolean().default(true),
  })
  .strict();
export type DeviceEntry = z.infer<typeof DeviceEntry>;

/** A local action run on the gateway when an alarm changes state, uplink or not. */
export const ActionEntry = z
  .object({
    id: Slug,
    on: z
      .object({
        /** Alarm types that trigger it (e.g. fire_confirmed, gas_high). */
        types: z.array(z.string().min(1)).min(1),
        /** Only alarms of these devices; omitted: any device. */
        devices: z.array(Slug).optional(),
        /** Also fire for walk-test alarms (off by default: a walk test must not start the siren). */
        includeTests: z.boolean().default(false),
      })
      .strict(),
    do: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('write'),
          /** A device (e.g. an I/O module with a siren relay) on an RTU or TCP bus. */
          device: Slug,
          table: z.enum(['coil', 'holding']),
          address: z.number().int().min(0).max(65535),
          /** Written when the alarm is raised. */
          activeValue: z.union([z.boolean(), z.number().int().min(0).max(65535)]).default(true),
          /** Written when the alarm is silenced, reset or (if not latched) cleared. */
          idleValue: z.union([z.boolean(), z.number().int().min(0).max(65535)]).default(false),
        })
        .strict(),
      z
        .object({
          kind: z.literal('mqtt'),
          topic: z.string().min(1),
          qos: z.union([z.literal(0), z.literal(1)]).default(1),
        })
        .strict(),
    ]),
  })
  .strict();
export type ActionEntry = z.infer<typeof ActionEntry>;

export const HealthConfig = z
  .object({
    /** Health and Prometheus metrics HTTP endpoint; 127.0.0.1 unless the LAN must scrape it. */
    host: z.string().default('127.0.0.1'),
    port: Port.default(9180),
  })
  .strict();

export const StorageConfig = z
  .object({
    /** Directory for the outbox and rule-state databases. */
    dataDir: z.string().min(1).default('/var/lib/doorstep'),
  })
  .strict();

/** Node-RED's bcrypt hashes ($2a$/$2b$/$2y$, cost 04–31, 53 characters of salt and hash). */
const BcryptHash = z
  .string()
  .regex(/^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/, 'must be a bcrypt hash ($2b$10$…)');

/**
 * Node-RED on the gateway (flows/README.md): a supervised child process, off by default. It talks
 * to the gateway over the local broker only, as `brokerUser`, which `broker.users` must list (the
 * supervisor checks that user and password at start: the top-level object stays refinement-free so
 * json-schema.ts can extend it).
 */
export const NodeRedConfig = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * `child`: the gateway starts and restarts Node-RED as its own child process (same user: flows
     * could read the gateway's credentials). `systemd`: the gateway only writes Node-RED's start
     * options to <dataDir>/node-red/start.json (0600) and the unit doorstep-node-red.service runs it
     * as another user without access to /etc/doorstep or the gateway's data (flows/README.md).
     */
    supervisor: z.enum(['child', 'systemd']).default('child'),
    /** The editor and admin API; 127.0.0.1 unless it must be reached from the LAN. */
    host: z.string().min(1).default('127.0.0.1'),
    port: Port.default(1880),
    adminUser: z.string().min(1).max(64).default('admin'),
    /** bcrypt, as Node-RED's adminAuth expects: `npx node-red admin hash-pw`. */
    adminPasswordHash: BcryptHash.optional(),
    /** V8 old-space cap of the child (MB); past it Node-RED dies and is restarted. */
    heapMb: z.number().int().min(64).max(4096).default(128),
    /**
     * Absolute; default <dataDir>/node-red/flows.json (with `supervisor: systemd`, flows.json in the
     * unit's own state directory), seeded with the shipped flows when missing.
     */
    flowsFile: z
      .string()
      .refine((p) => p.startsWith('/'), 'must be an absolute path')
      .optional(),
    /** Encrypts flows_cred.json; default: generated once into <dataDir>/node-red/.credential-secret. */
    credentialSecret: z.string().min(16).optional(),
    brokerUser: z.string().min(1).default('node-red'),
    brokerPassword: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.enabled) return;
    // An editor without a password would let anyone who reaches the port run code on the gateway.
    if (!c.adminPasswordHash)
      ctx.addIssue({ code: 'custom', path: ['adminPasswordHash'], message: 'required when enabled' });
    if (!c.brokerPassword)
      ctx.addIssue({ code: 'custom', path: ['brokerPassword'], message: 'required when enabled' });
  });
export type NodeRedConfig = z.infer<typeof NodeRedConfig>;

export const GatewayConfig = z
  .object({
    gateway: z
      .object({
        id: GatewayId,
        site: SitePath,
        name: z.string().min(1).max(120).optional(),
        /**
         * Still being commissioned: every alarm is raised as a test (shown on the town's board,
         * never escalated) until the installer hands the site over (`doorstep provision handover`
         * sets it to false). `provision init` writes true; a file without it is a handed-over site.
         */
        commissioning: z.boolean().default(false),
      })
      .strict(),
    buses: z.array(Bus).default([]),
    /** Devices are validated one by one: an invalid entry disables only that device. */
    devices: z.array(z.unknown()).default([]),
    /** Site overrides by alarm type; checked by edge/rules/resolve.ts like the devices' `rules`. */
    rules: z
      .object({ site: RuleOverridesUnchecked.default({}) })
      .strict()
      .prefault({}),
    storage: StorageConfig.prefault({}),
    outbox: OutboxConfigSchema.prefault({}),
    actions: z.array(ActionEntry).default([]),
    /** Sync with the district cloud (edge/uplink/README.md); omitted: the gateway runs on its own. */
    uplink: z
      .object({
        /** The cloud's base URL, e.g. https://pudong.doorstep.example (POST {url}/v1/sync). */
        url: z.string().url(),
        /** File holding the gateway's secret (written by `doorstep provision register`, mode 0600). */
        credentialsFile: z.string().min(1),
        batchRows: z.number().int().min(1).max(10_000).default(2000),
        requestTimeoutMs: z.number().int().min(500).max(120_000).default(8000),
        /** How fast a backlog is replayed after an outage, rows/s ('max': as fast as the cloud takes it). */
        backlogRowsPerSecond: z.union([z.number().int().positive(), z.literal('max')]).default(2000),
        /** Idle poll interval: commands from the cloud arrive at least this often. */
        intervalMs: z.number().int().min(200).max(600_000).default(5000),
        /** Silences EDGE_ERR_UPLINK_PLAINTEXT for an http:// url on a link protected otherwise (APN, VPN). */
        allowPlaintext: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** The local MQTT broker on the gateway's LAN port (edge/broker/README.md); omitted: none. */
    broker: LocalBrokerConfigSchema.optional(),
    /** Report-by-exception for telemetry, to spare 4G data; alarms and events are always sent. */
    telemetry: z
      .object({
        /** A numeric reading is sent when it moved more than this share of its range (%). */
        deadbandPercent: z.number().min(0).max(50).default(1),
        /** …or when this long passed since the last one sent for that point. */
        heartbeatMs: z
          .number()
          .int()
          .min(1000)
          .default(5 * 60_000),
        /** Readings wait at most this long in memory before they are written to the outbox together. */
        flushIntervalMs: z.number().int().min(50).max(10_000).default(1000),
      })
      .strict()
      .prefault({}),
    /**
     * The gateway's own 4G modem (edge/modem/README.md): critical alarms the cloud has not acknowledged
     * within `afterMs` are texted to the on-site duty numbers. Omitted or enabled: false: none.
     */
    modem: ModemConfig.optional(),
    /** Node-RED as a supervised child process (flows/README.md); omitted or enabled: false: none. */
    nodeRed: NodeRedConfig.optional(),
    health: HealthConfig.prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict();
export type GatewayConfigInput = z.input<typeof GatewayConfig>;
export type ParsedGatewayConfig = z.infer<typeof GatewayConfig>;
