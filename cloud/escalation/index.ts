/**
 * cloud/escalation: policies, duty rosters, the durable escalation engine and noise control.
 * `createEscalationEngine` is the one-liner for the composition root once the store is open and
 * the lifecycle (StageMover, CaseReader) and the notifiers exist.
 */
import type { Logger } from '../../common/log.js';
import type { AlarmCase, CaseReader, Notifier, StageMover } from '../alarms/contract.js';
import type { CaseLogSource } from '../alarms/log-reader.js';
import type { StoreHandle } from '../store/port.js';
import type { EscalationConfig } from './config.js';
import { EscalationEngine, type Timers } from './engine.js';
import { effectivePolicies } from './policy.js';
import type { DutyResolver } from './roster.js';
import { escalationStoreFor } from './store/index.js';

export * from './config.js';
export * from './engine.js';
export * from './noise.js';
export * from './policy.js';
export * from './roster.js';
export * from './routes.js';
export * from './store/index.js';

export interface EscalationWiring {
  handle: StoreHandle;
  duty: DutyResolver;
  notifier: Notifier;
  stageMover: StageMover;
  clock: () => number;
  cases?: CaseReader;
  /** The case-event log the engine reads (cursor `escalation`). */
  events?: CaseLogSource;
  /** Marks urgent work in flight for bulk ingest (BulkGate.smallStarted). */
  urgent?: () => () => void;
  /** The sensor kind of a case's device (the registry), for policies matching `deviceKinds`. */
  deviceKind?: (c: AlarmCase) => Promise<string | undefined>;
  links?: (c: AlarmCase) => { view: string; ack: string; feedback: string };
  timers?: Timers;
  log?: Logger;
  workerId?: string;
}

/** The engine on the cloud store's database; call `start()` after the store is migrated. */
export function createEscalationEngine(config: EscalationConfig, w: EscalationWiring): EscalationEngine {
  return new EscalationEngine({
    store: escalationStoreFor(w.handle),
    duty: w.duty,
    policies: effectivePolicies(config.policies),
    notifier: w.notifier,
    stageMover: w.stageMover,
    noise: config.noise,
    clock: w.clock,
    tickMs: config.worker.tickMs,
    leaseMs: config.worker.leaseMs,
    ...(w.cases ? { cases: w.cases } : {}),
    ...(w.events ? { events: w.events } : {}),
    ...(w.urgent ? { urgent: w.urgent } : {}),
    ...(w.deviceKind ? { deviceKind: w.deviceKind } : {}),
    ...(w.links ? { links: w.links } : {}),
    ...(w.timers ? { timers: w.timers } : {}),
    ...(w.log ? { log: w.log } : {}),
    ...(w.workerId ? { workerId: w.workerId } : {}),
  });
}
