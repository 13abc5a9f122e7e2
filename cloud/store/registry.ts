/**
 * The device registry (一号一源: one authoritative record per device in the district), shared by
 * the three adapters: its record types, what one inventory part changes (`planInventory`, a pure
 * function of what is stored), and the row mapping of the SQL adapters. cloud/store/README.md
 * "The device registry" explains the rules; protocol/inventory.ts the wire shape.
 *
 * Adapters read a snapshot (the gateway's inventory state, the live records bound to the gateway,
 * the records of the part's codes), apply the plan in the same transaction, and thereby stay
 * idempotent: a part delivered again (the gateway resends an unacknowledged batch, or two
 * instances ingest it) changes nothing more.
 */
import { cloudDeviceCode, type InventoryEvent, type SitePath } from '../../protocol/index.js';
import { siteFromPath, sitePathString } from './common.js';
import type { DeviceRecord, GatewayRecord } from './port.js';
import { type Query, Where } from './sql-queries.js';
import type { Dialect } from './sql-shared.js';

export type RegistryStatus = 'active' | 'removed';

/** One device of the district, under its code, wherever it is installed now. */
export interface RegistryDevice {
  code: string;
  /** `installer`: a register code from the inventory; `cloud`: `<gateway>.<device>`, given by the cloud. */
  assigned: 'installer' | 'cloud';
  /** The gateway and device id it is (or, once removed, was last) reported under. */
  gateway: string;
  device: string;
  site: SitePath;
  kind: string;
  use?: string;
  profile: string;
  profileVersion: number;
  label: string;
  building?: string;
  unit?: string;
  floor?: string;
  planX?: number;
  planY?: number;
  installedOn?: string;
  /** The inventory generation that last listed it. */
  generation: number;
  firstSeen: number;
  updatedAt: number;
  /** When an inventory of its gateway stopped listing it (cloud clock); absent while active. */
  removedAt?: number;
  status: RegistryStatus;
}

/** One stretch of a device's life under one (gateway, device id): its history follows its code. */
export interface RegistryBinding {
  code: string;
  gateway: string;
  device: string;
  site: SitePath;
  since: number;
  until?: number;
}

export interface RegistryFilter {
  /** Words in the code, device id, label, building, unit or floor (case-insensitive). */
  text?: string;
  kind?: string;
  /** A site path (district/town/community or a prefix) inside the query scope. */
  site?: string;
  status?: RegistryStatus | 'all';
  gateway?: string;
  limit?: number;
}

/** What a gateway's inventory looked like last: its generation and the parts received of it. */
export interface InventoryState {
  gateway: string;
  generation: number;
  parts: number;
  received: number[];
  /** When every part of `generation` had arrived (and missing devices were marked removed). */
  completeAt?: number;
  updatedAt: number;
}

export interface InventoryResult {
  /** false: a part of an older generation than one already seen — ignored. */
  applied: boolean;
  added: number;
  updated: number;
  moved: number;
  removed: number;
  /** Every part of this generation has arrived. */
  complete: boolean;
}

export interface InventorySnapshot {
  state?: InventoryState;
  /** Records bound to the gateway that are not removed. */
  bound: RegistryDevice[];
  /** Records with the codes of the part (wherever they are bound). */
  byCode: RegistryDevice[];
}

export interface InventoryPlan {
  state: InventoryState;
  /** Whole rows to insert or replace (by code). */
  upserts: RegistryDevice[];
  /** Open bindings of these codes end at `now`. */
  closeBindings: string[];
  /** New bindings (after the closing ones). */
  openBindings: RegistryBinding[];
  /** Write-through to the `devices` table, whose labels cases, console, notices and feeds read. */
  devices: DeviceRecord[];
  result: InventoryResult;
}

/** The codes a part names (a device without a register code gets the cloud's). */
export function inventoryCodes(gateway: string, part: InventoryEvent): string[] {
  return part.devices.map((d) => d.code ?? cloudDeviceCode(gateway, d.id));
}

/**
 * What one inventory part changes. A device is "the same" as a stored one when it has the same
 * code: reported by another gateway (or under another id), its record moves there — the old
 * binding closes, a new one opens — and keeps its code, first-seen time and history. A record
 * bound to the same (gateway, device id) under another code is the device that was replaced:
 * marked removed. Once every part of the generation has arrived, every live record of the gateway
 * that the generation did not list is marked removed (with the time), never deleted.
 */
export function planInventory(
  gateway: GatewayRecord,
  part: InventoryEvent,
  snapshot: InventorySnapshot,
  now: number,
): InventoryPlan | undefined {
  const prior = snapshot.state;
  if (prior && part.generation < prior.generation) return undefined;
  const sameGeneration = prior !== undefined && prior.generation === part.generation;
  const received = new Set(sameGeneration ? prior.received : []);
  const alreadyHad = received.has(part.part);
  received.add(part.part);
  const complete = received.size >= part.parts;
  const state: InventoryState = {
    gateway: gateway.id,
    generation: part.generation,
    parts: part.parts,
    received: [...received].sort((a, b) => a - b),
    ...(complete ? { completeAt: sameGeneration && prior.completeAt ? prior.completeAt : now } : {}),
    updatedAt: now,
  };
  const result: InventoryResult = { applied: true, added: 0, updated: 0, moved: 0, removed: 0, complete };
  const plan: InventoryPlan = {
    state,
    upserts: [],
    closeBindings: [],
    openBindings: [],
    devices: [],
    result,
  };
  const site = gateway.site;
  const byCode = new Map(snapshot.byCode.map((r) => [r.code, r]));
  const touched = new Map<string, RegistryDevice>();
  const remove = (r: RegistryDevice) => {
    if (r.status === 'removed' || touched.has(r.code)) return;
    touched.set(r.code, { ...r, status: 'removed', removedAt: now, updatedAt: now });
    plan.closeBindings.push(r.code);
    result.removed++;
  };
  if (alreadyHad && prior) {
    // The same part again (a resend, or a second instance): nothing more to change.
    return { ...plan, state: prior, result: { ...result, complete: prior.completeAt !== undefined } };
  }
  const codes = inventoryCodes(gateway.id, part);
  part.devices.forEach((d, i) => {
    const code = codes[i]!;
    // Another code bound to this (gateway, device id): that device was replaced.
    for (const r of snapshot.bound) if (r.device === d.id && r.code !== code) remove(r);
    const old = byCode.get(code);
    const moved = old !== undefined && (old.gateway !== gateway.id || old.device !== d.id);
    const record: RegistryDevice = {
      code,
      assigned: d.code ? 'installer' : 'cloud',
      gateway: gateway.id,
      device: d.id,
      site,
      kind: d.kind,
      ...(d.use ? { use: d.use } : {}),
      profile: d.profile,
      profileVersion: d.profileVersion,
      label: d.label,
      ...(d.building ? { building: d.building } : {}),
      ...(d.unit ? { unit: d.unit } : {}),
      ...(d.floor ? { floor: d.floor } : {}),
      ...(d.plan ? { planX: d.plan.x, planY: d.plan.y } : {}),
      ...(d.installedOn ? { installedOn: d.installedOn } : {}),
      generation: part.generation,
      firstSeen: old?.firstSeen ?? now,
      updatedAt: now,
      status: 'active',
    };
    if (!old) result.added++;
    else if (moved) result.moved++;
    else result.updated++;
    if (!old || moved || old.status === 'removed') {
      if (old && (moved || old.status === 'active')) plan.closeBindings.push(code);
      plan.openBindings.push({ code, gateway: gateway.id, device: d.id, site, since: now });
    }
    touched.set(code, record);
    plan.devices.push({
      gateway: gateway.id,
      id: d.id,
      site,
      kind: d.kind,
      profile: d.profile,
      location: d.label,
    });
  });
  if (complete)
    for (const r of snapshot.bound) if (r.generation < part.generation && !touched.has(r.code)) remove(r);
  plan.upserts = [...touched.values()];
  plan.closeBindings = [...new Set(plan.closeBindings)];
  return plan;
}

export const REGISTRY_COLUMNS = [
  'code',
  'assigned',
  'gateway',
  'device',
  'site_path',
  'kind',
  'use_',
  'profile',
  'profile_version',
  'label',
  'building',
  'unit',
  'floor',
  'plan_x',
  'plan_y',
  'installed_on',
  'generation',
  'first_seen',
  'updated_at',
  'removed_at',
] as const;

/** A record as the SQL adapters bind it, in REGISTRY_COLUMNS order. */
export function registryParams(r: RegistryDevice): unknown[] {
  return [
    r.code,
    r.assigned,
    r.gateway,
    r.device,
    sitePathString(r.site),
    r.kind,
    r.use ?? null,
    r.profile,
    r.profileVersion,
    r.label,
    r.building ?? null,
    r.unit ?? null,
    r.floor ?? null,
    r.planX ?? null,
    r.planY ?? null,
    r.installedOn ?? null,
    r.generation,
    r.firstSeen,
    r.updatedAt,
    r.removedAt ?? null,
  ];
}

type Row = Record<string, unknown>;
const opt = (v: unknown) => (v === null || v === undefined ? undefined : v);

export function toRegistryDevice(r: Row): RegistryDevice {
  const removedAt = opt(r['removed_at']);
  const out: RegistryDevice = {
    code: String(r['code']),
    assigned: r['assigned'] === 'installer' ? 'installer' : 'cloud',
    gateway: String(r['gateway']),
    device: String(r['device']),
    site: siteFromPath(String(r['site_path'])),
    kind: String(r['kind']),
    profile: String(r['profile']),
    profileVersion: Number(r['profile_version']),
    label: String(r['label']),
    generation: Number(r['generation']),
    firstSeen: Number(r['first_seen']),
    updatedAt: Number(r['updated_at']),
    status: removedAt === undefined ? 'active' : 'removed',
  };
  const text = (col: string, key: 'use' | 'building' | 'unit' | 'floor' | 'installedOn') => {
    const v = opt(r[col]);
    if (v !== undefined) out[key] = String(v);
  };
  text('use_', 'use');
  text('building', 'building');
  text('unit', 'unit');
  text('floor', 'floor');
  text('installed_on', 'installedOn');
  if (opt(r['plan_x']) !== undefined) out.planX = Number(r['plan_x']);
  if (opt(r['plan_y']) !== undefined) out.planY = Number(r['plan_y']);
  if (removedAt !== undefined) out.removedAt = Number(removedAt);
  return out;
}

export function toRegistryBinding(r: Row): RegistryBinding {
  const until = opt(r['until_at']);
  return {
    code: String(r['code']),
    gateway: String(r['gateway']),
    device: String(r['device']),
    site: siteFromPath(String(r['site_path'])),
    since: Number(r['since_at']),
    ...(until !== undefined ? { until: Number(until) } : {}),
  };
}

export function toInventoryState(r: Row): InventoryState {
  const complete = opt(r['complete_at']);
  return {
    gateway: String(r['gateway']),
    generation: Number(r['generation']),
    parts: Number(r['parts']),
    received: JSON.parse(String(r['received'])) as number[],
    ...(complete !== undefined ? { completeAt: Number(complete) } : {}),
    updatedAt: Number(r['updated_at']),
  };
}

/** Listing order: site path, then code (byte order, as the SQL adapters' COLLATE "C"/BINARY). */
export function byRegistryOrder(a: RegistryDevice, b: RegistryDevice): number {
  const pa = sitePathString(a.site);
  const pb = sitePathString(b.site);
  if (pa !== pb) return pa < pb ? -1 : 1;
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}

/** The text a search looks in, lower case (memory adapter; SQL does the same with lower()). */
export function registryText(r: RegistryDevice): string {
  return [r.code, r.device, r.label, r.building, r.unit, r.floor].filter(Boolean).join('\n').toLowerCase();
}

/** Matches the filter apart from scope and limit (memory adapter, and a second check over SQL rows). */
export function matchesRegistryFilter(r: RegistryDevice, f: RegistryFilter): boolean {
  const status = f.status ?? 'active';
  if (status !== 'all' && r.status !== status) return false;
  if (f.kind !== undefined && r.kind !== f.kind) return false;
  if (f.gateway !== undefined && r.gateway !== f.gateway) return false;
  if (f.site !== undefined) {
    const path = sitePathString(r.site);
    if (path !== f.site && !path.startsWith(`${f.site}/`)) return false;
  }
  if (f.text !== undefined && f.text !== '' && !registryText(r).includes(f.text.toLowerCase())) return false;
  return true;
}

// ── SQL, both adapters (placeholders and the substring function from the dialect) ─────────────

const REGISTRY_UPSERT_SET = REGISTRY_COLUMNS.filter((c) => c !== 'code')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');

export function registryUpsertSql(d: Dialect): string {
  const values = REGISTRY_COLUMNS.map((_, i) => d.p(i + 1)).join(', ');
  return `INSERT INTO registry_devices (${REGISTRY_COLUMNS.join(', ')}) VALUES (${values})
    ON CONFLICT (code) DO UPDATE SET ${REGISTRY_UPSERT_SET}`;
}

export function registryListQuery(d: Dialect, scope: string, f: RegistryFilter = {}): Query {
  const w = new Where(d).scope('site_path', scope);
  const status = f.status ?? 'active';
  if (status === 'active') w.add(() => 'removed_at IS NULL');
  else if (status === 'removed') w.add(() => 'removed_at IS NOT NULL');
  w.eq('kind', f.kind).eq('gateway', f.gateway);
  if (f.site !== undefined) w.scope('site_path', f.site);
  if (f.text !== undefined && f.text !== '') {
    const hay = `lower(code || ' ' || device || ' ' || label || ' ' || coalesce(building, '') || ' ' || coalesce(unit, '') || ' ' || coalesce(floor, ''))`;
    const sqlite = d.p(1) === '?';
    w.add((p) => (sqlite ? `instr(${hay}, lower(${p()})) > 0` : `strpos(${hay}, lower(${p()})) > 0`), f.text);
  }
  const sql = `SELECT * FROM registry_devices${w.sql} ORDER BY site_path, code${w.limit(f.limit)}`;
  return { sql, params: w.params };
}
