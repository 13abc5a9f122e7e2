/**
 * District view figures, per town: open alarms, overdue 督办, mean time to acknowledge and to close,
 * false-alarm rate, "bad actor" communities (GB 50440 operations: more than 5 false alarms a day,
 * reference/standards.md), devices offline and "red light" communities. Pure: the route reads the
 * cases, sites and device health, this folds them.
 */
import { formatSitePath } from '../../protocol/index.js';
import type { AlarmCase } from '../alarms/contract.js';
import { idleSince } from '../alarms/model.js';

/** The red light (红灯, 浦东i党建 — docs/standards.md): 7 days without activity on an open case. */
const RED_LIGHT_IDLE_MS = 7 * 86_400_000;

import type { DeviceHealth, SiteNode } from '../store/port.js';

/** GB 50440 operations: a site with more than 5 false alarms a day is handled with the centre. */
export const BAD_ACTOR_FALSE_ALARMS_PER_DAY = 5;
const DAY = 86_400_000;

export interface TownFigures {
  town: string;
  name: string;
  openAlarms: number;
  openCritical: number;
  unacked: number;
  overdueSupervise: number;
  /** Mean ms from raise to acknowledgement, of cases raised in the window that were acknowledged. */
  meanAckMs: number | null;
  /** Mean ms from raise to 办结, of cases raised in the window that were closed. */
  meanCloseMs: number | null;
  /** false_alarm feedback / all feedback, of cases raised in the window. */
  falseAlarmRate: number | null;
  casesInWindow: number;
  badActors: { site: string; name: string; falseAlarms24h: number }[];
  devicesOffline: number;
  devices: number;
  redLights: { site: string; name: string; why: string[] }[];
}

export interface Figures {
  at: number;
  windowMs: number;
  towns: TownFigures[];
}

const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : null);

export function districtFigures(input: {
  now: number;
  windowMs: number;
  sites: SiteNode[];
  open: AlarmCase[];
  recent: AlarmCase[];
  devices: DeviceHealth[];
}): Figures {
  const { now, sites } = input;
  const names = new Map(sites.map((s) => [s.path, s.name]));
  const townOf = (path: string) => path.split('/').slice(0, 2).join('/');
  const towns = new Map<string, TownFigures>();
  const town = (path: string): TownFigures => {
    let t = towns.get(path);
    if (!t) {
      t = {
        town: path,
        name: names.get(path) ?? path.split('/')[1] ?? path,
        openAlarms: 0,
        openCritical: 0,
        unacked: 0,
        overdueSupervise: 0,
        meanAckMs: null,
        meanCloseMs: null,
        falseAlarmRate: null,
        casesInWindow: 0,
        badActors: [],
        devicesOffline: 0,
        devices: 0,
        redLights: [],
      };
      towns.set(path, t);
    }
    return t;
  };
  for (const s of sites) if (s.level === 'town') town(s.path);

  const red = new Map<string, Set<string>>();
  const flag = (site: string, why: string) => {
    let set = red.get(site);
    if (!set) {
      set = new Set();
      red.set(site, set);
    }
    set.add(why);
  };
  for (const c of input.open) {
    const site = formatSitePath(c.site);
    const t = town(townOf(site));
    t.openAlarms++;
    if (c.severity === 'critical') t.openCritical++;
    if (!c.acked) t.unacked++;
    if (c.stage === 'supervise') {
      t.overdueSupervise++;
      flag(site, 'supervise');
    }
    if (c.severity === 'critical' && !c.acked && !c.test) flag(site, 'critical_unacked');
    if (!c.test && now - idleSince(c) >= RED_LIGHT_IDLE_MS) flag(site, 'idle_7d');
  }

  const perTown = new Map<
    string,
    { ack: number[]; close: number[]; fb: number; falses: number; n: number }
  >();
  const false24h = new Map<string, number>();
  for (const c of input.recent) {
    const site = formatSitePath(c.site);
    const key = townOf(site);
    let agg = perTown.get(key);
    if (!agg) {
      agg = { ack: [], close: [], fb: 0, falses: 0, n: 0 };
      perTown.set(key, agg);
    }
    agg.n++;
    if (c.ackedAt !== undefined) agg.ack.push(Math.max(0, c.ackedAt - c.raisedAt));
    if (c.closedAt !== undefined) agg.close.push(Math.max(0, c.closedAt - c.raisedAt));
    if (c.feedback) {
      agg.fb++;
      if (c.feedback.cause === 'false_alarm') {
        agg.falses++;
        if (c.raisedAt >= now - DAY) false24h.set(site, (false24h.get(site) ?? 0) + 1);
      }
    }
  }
  for (const [key, agg] of perTown) {
    const t = town(key);
    t.casesInWindow = agg.n;
    t.meanAckMs = mean(agg.ack);
    t.meanCloseMs = mean(agg.close);
    t.falseAlarmRate = agg.fb ? agg.falses / agg.fb : null;
  }
  for (const [site, n] of false24h)
    if (n > BAD_ACTOR_FALSE_ALARMS_PER_DAY) {
      town(townOf(site)).badActors.push({ site, name: names.get(site) ?? site, falseAlarms24h: n });
      flag(site, 'bad_actor');
    }
  for (const d of input.devices) {
    const t = town(townOf(formatSitePath(d.site)));
    t.devices++;
    if (d.state === 'offline') t.devicesOffline++;
  }
  for (const [site, why] of red)
    town(townOf(site)).redLights.push({ site, name: names.get(site) ?? site, why: [...why].sort() });
  return {
    at: now,
    windowMs: input.windowMs,
    towns: [...towns.values()].sort((a, b) => a.town.localeCompare(b.town)),
  };
}
