/** Builders and fakes shared by the alarm-case tests. */
import { pino } from 'pino';
import { LifecycleService } from '../../../cloud/alarms/lifecycle.js';
import type { Actor } from '../../../cloud/alarms/model.js';
import type { AlarmCaseStore, CaseLogEntry } from '../../../cloud/alarms/store/port.js';
import type { CloudStore } from '../../../cloud/store/port.js';
import type { AlarmTransition, SitePath } from '../../../protocol/index.js';

export const T0 = Date.UTC(2025, 5, 1, 3, 0, 0); // 3 a.m. UTC
export const LANE: SitePath = { district: 'pudong', town: 'zhangjiang', community: 'lane-100' };
export const GARDEN: SitePath = { district: 'pudong', town: 'huamu', community: 'garden-1' };

export function transition(
  id: string,
  state: AlarmTransition['state'],
  ts: number,
  extra: Partial<AlarmTransition> = {},
): AlarmTransition {
  return {
    id,
    gateway: 'gw-1',
    device: 'smoke-1',
    type: 'smoke',
    severity: 'critical',
    state,
    ts,
    test: false,
    latched: false,
    ...extra,
  };
}

export const duty: Actor = {
  kind: 'user',
  id: 'u-duty',
  name: 'duty.li',
  ip: '127.0.0.1',
  userAgent: 'test',
};

/** Reads the case-event log of a store (what the lifecycle's changes appended), oldest first. */
export class LogView {
  constructor(private readonly cases: AlarmCaseStore) {}
  async events(): Promise<CaseLogEntry[]> {
    return this.cases.readEvents(0, 100_000);
  }
  async kinds(caseId?: string): Promise<string[]> {
    return (await this.events()).filter((e) => !caseId || e.caseId === caseId).map((e) => e.kind);
  }
}

/** A registry with gateway gw-1 in LANE and gw-2 in GARDEN, smoke-1 of gw-1 labelled. */
export async function seedRegistry(store: CloudStore): Promise<void> {
  await store.createGateway({ id: 'gw-1', site: LANE, status: 'active', createdAt: T0 });
  await store.createGateway({ id: 'gw-2', site: GARDEN, status: 'active', createdAt: T0 });
  await store.upsertDevices([
    { gateway: 'gw-1', id: 'smoke-1', site: LANE, kind: 'smoke', location: '3号楼2单元 楼道' },
  ]);
}

export function lifecycle(
  cases: AlarmCaseStore,
  store: CloudStore,
  clock: { now: number },
): { service: LifecycleService; sink: LogView } {
  let n = 0;
  const service = new LifecycleService({
    cases,
    store,
    clock: () => clock.now,
    log: pino({ level: 'silent' }),
    newId: () => `cmd-${++n}`,
  });
  return { service, sink: new LogView(cases) };
}

/** A 1×1 PNG as a data URL. */
export const PNG_1PX =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
