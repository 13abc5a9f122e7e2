/**
 * The people directory and on-call schedules: "who is on duty at this site now, and next?".
 * Modelled on Grafana OnCall's schedules — layers with rotations, overrides that always win — with
 * day/night patterns as layer hours: a community (居村) station staffed 08:00–20:00 on site and on
 * call at night is two layers; a town (街镇) sub-centre staffed 24 h is one layer without hours.
 * All times Asia/Shanghai (fixed UTC+8, no DST: see time.ts).
 */

import { DAY, MINUTE, minuteOfDay, parseLocal, windowAt, windowEdges } from '../../common/time.js';
import { formatSitePath, type SitePath } from '../../protocol/index.js';
import type { ChannelAddress, Recipient } from '../alarms/contract.js';
import type { Layer, PersonEntry, Schedule } from './config.js';
import type { Target, Tier } from './policy.js';

export interface Shift {
  person: { id: string; name: string };
  from: number;
  to: number;
  /** Staffed by an override rather than the rotation. */
  override: boolean;
}

export interface LayerDuty {
  schedule: string;
  site: string;
  role: string;
  layer: string;
  mode: 'on_site' | 'on_call';
  current: Shift | null;
  next: Shift | null;
}

/** How far ahead "next" is looked for, and how many shift segments are merged at most. */
const HORIZON_MS = 35 * DAY;
const MAX_SEGMENTS = 400;

interface Compiled {
  schedule: Schedule;
  layers: { layer: Layer; startAt: number; lengthMs: number }[];
  overrides: { person: string; from: number; to: number; layer: string | undefined }[];
}

export function tierSite(site: SitePath, tier: Tier): string {
  if (tier === 'district') return site.district;
  if (tier === 'town') return `${site.district}/${site.town}`;
  return formatSitePath(site);
}

export class DutyResolver {
  readonly #people = new Map<string, PersonEntry>();
  readonly #schedules = new Map<string, Compiled>();

  constructor(config: { people: readonly PersonEntry[]; schedules: readonly Schedule[] }) {
    for (const p of config.people) this.#people.set(p.id, p);
    for (const s of config.schedules)
      this.#schedules.set(s.id, {
        schedule: s,
        layers: s.layers.map((layer) => ({
          layer,
          startAt: parseLocal(layer.rotation.start) + minuteOfDay(layer.rotation.handoff) * MINUTE,
          lengthMs: Math.round(layer.rotation.lengthDays * DAY),
        })),
        overrides: s.overrides.map((o) => ({
          person: o.person,
          from: parseLocal(o.from),
          to: parseLocal(o.to),
          layer: o.layer,
        })),
      });
  }

  person(id: string): PersonEntry | undefined {
    return this.#people.get(id);
  }

  recipient(id: string): Recipient | undefined {
    const p = this.#people.get(id);
    return p && recipientOf(p);
  }

  hasSchedule(id: string): boolean {
    return this.#schedules.has(id);
  }

  /** Every layer of every schedule at `site` and at its town and district, current and next shift. */
  onDuty(site: string, at: number): LayerDuty[] {
    const chain = new Set(site.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/')));
    const out: LayerDuty[] = [];
    for (const c of this.#schedules.values()) {
      if (!chain.has(c.schedule.site)) continue;
      for (const l of c.layers)
        out.push({
          schedule: c.schedule.id,
          site: c.schedule.site,
          role: c.schedule.role,
          layer: l.layer.name,
          mode: l.layer.mode,
          current: this.#shiftAt(c, l, at),
          next: this.#nextShift(c, l, at),
        });
    }
    return out.sort((a, b) => a.site.length - b.site.length || a.schedule.localeCompare(b.schedule));
  }

  /** Person ids on duty now in a schedule (every layer, on site or on call). */
  scheduleOnDuty(id: string, at: number): string[] {
    const c = this.#schedules.get(id);
    if (!c) return [];
    return unique(c.layers.flatMap((l) => this.#assignee(c, l, at)?.person ?? []));
  }

  /**
   * The recipients of targets for a case at fire time. A role at a tier is whoever is on duty in
   * that site's schedules for the role; with no schedule (or nobody on shift) everyone holding the
   * role at that site, so a gap in a roster never silences an alarm.
   */
  resolve(targets: readonly Target[], site: SitePath, at: number): Recipient[] {
    const ids: string[] = [];
    for (const t of targets) {
      if (t.kind === 'person') ids.push(t.id);
      else if (t.kind === 'oncall') ids.push(...this.scheduleOnDuty(t.schedule, at));
      else {
        const where = tierSite(site, t.tier);
        const onShift = [...this.#schedules.values()]
          .filter((c) => c.schedule.site === where && c.schedule.role === t.role)
          .flatMap((c) => this.scheduleOnDuty(c.schedule.id, at));
        if (onShift.length > 0) ids.push(...onShift);
        else
          for (const p of this.#people.values())
            if (p.site === where && p.roles.includes(t.role)) ids.push(p.id);
      }
    }
    return unique(ids).flatMap((id) => this.recipient(id) ?? []);
  }

  #assignee(
    c: Compiled,
    l: Compiled['layers'][number],
    t: number,
  ): { person: string; override: boolean } | undefined {
    // Overrides always win (Grafana OnCall); among overlapping ones the last listed.
    for (let i = c.overrides.length - 1; i >= 0; i--) {
      const o = c.overrides[i]!;
      if ((o.layer === undefined || o.layer === l.layer.name) && o.from <= t && t < o.to)
        return { person: o.person, override: true };
    }
    if (l.layer.hours && !windowAt(l.layer.hours, t)) return undefined;
    const members = l.layer.rotation.members;
    const k = Math.floor((t - l.startAt) / l.lengthMs);
    const person = members[((k % members.length) + members.length) % members.length];
    return person === undefined ? undefined : { person, override: false };
  }

  /** Every time at which this layer's assignee may change, in (lo, hi]. */
  #edges(c: Compiled, l: Compiled['layers'][number], lo: number, hi: number): number[] {
    const edges: number[] = [];
    const first = l.startAt + (Math.floor((lo - l.startAt) / l.lengthMs) + 1) * l.lengthMs;
    for (let e = first; e <= hi; e += l.lengthMs) edges.push(e);
    if (l.layer.hours) edges.push(...windowEdges(l.layer.hours, lo, hi));
    for (const o of c.overrides) edges.push(o.from, o.to);
    return unique(edges.filter((e) => e > lo && e <= hi)).sort((a, b) => a - b);
  }

  /** The latest edge ≤ x, searched back two days at a time within the horizon. */
  #prevEdge(c: Compiled, l: Compiled['layers'][number], x: number): number | undefined {
    for (let lo = x - 2 * DAY; lo > x - HORIZON_MS - 2 * DAY; lo -= 2 * DAY) {
      const edges = this.#edges(c, l, lo, x);
      if (edges.length > 0) return edges[edges.length - 1];
    }
    return undefined;
  }

  /** The earliest edge > x within the horizon. */
  #nextEdge(c: Compiled, l: Compiled['layers'][number], x: number): number | undefined {
    for (let lo = x; lo < x + HORIZON_MS; lo += 2 * DAY) {
      const edge = this.#edges(c, l, lo, lo + 2 * DAY)[0];
      if (edge !== undefined) return edge;
    }
    return undefined;
  }

  /** The shift covering `t`: the run of consecutive segments with the same person. */
  #shiftAt(c: Compiled, l: Compiled['layers'][number], t: number): Shift | null {
    const who = this.#assignee(c, l, t);
    if (!who) return null;
    const same = (x: number) => this.#assignee(c, l, x)?.person === who.person;
    let from = this.#prevEdge(c, l, t) ?? t - HORIZON_MS;
    for (let n = 0; n < MAX_SEGMENTS && from > t - HORIZON_MS && same(from - 1); n++) {
      const earlier = this.#prevEdge(c, l, from - 1);
      if (earlier === undefined) break;
      from = earlier;
    }
    let to = this.#nextEdge(c, l, t) ?? t + HORIZON_MS;
    for (let n = 0; n < MAX_SEGMENTS && to < t + HORIZON_MS && same(to); n++) {
      const later = this.#nextEdge(c, l, to);
      if (later === undefined) break;
      to = later;
    }
    return { person: this.#view(who.person), from, to, override: who.override };
  }

  /** The first shift that starts after the current one ends (or after `t` in a gap). */
  #nextShift(c: Compiled, l: Compiled['layers'][number], t: number): Shift | null {
    const current = this.#shiftAt(c, l, t);
    let cursor = current ? current.to : t;
    for (let n = 0; n < MAX_SEGMENTS && cursor < t + HORIZON_MS; n++) {
      if (this.#assignee(c, l, cursor)) return this.#shiftAt(c, l, cursor);
      const next = this.#nextEdge(c, l, cursor);
      if (next === undefined) return null;
      cursor = next;
    }
    return null;
  }

  #view(id: string): { id: string; name: string } {
    return { id, name: this.#people.get(id)?.name ?? id };
  }
}

/** A person as the notifier sees them: phone addresses carry a number (the person's by default). */
export function recipientOf(p: PersonEntry): Recipient {
  const channels: ChannelAddress[] = p.channels.flatMap((a): ChannelAddress[] => {
    if (a.kind !== 'sms' && a.kind !== 'voice' && a.kind !== 'smpp') return [a];
    const phone = a.phone ?? p.phone;
    // The config refuses a phone address without a number; nothing to dial is nothing to send.
    if (!phone) return [];
    return [{ kind: a.kind, phone, ...(a.when ? { when: a.when } : {}) }];
  });
  return { id: p.id, name: p.name, lang: p.lang, channels, ...(p.phone ? { phone: p.phone } : {}) };
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
