import type { Field, PointPriority, RegisterProfile, RegisterTable } from './types.js';
import { fieldWidth } from './types.js';

/**
 * One read request of the plan: a contiguous span of one table, polled at one interval.
 * Modbus Application Protocol v1.1b3 §6.1–6.4: at most 125 registers or 2000 bits per read.
 */
export interface ReadBlock {
  id: string;
  table: RegisterTable;
  address: number;
  count: number;
  priority: PointPriority;
  intervalMs: number;
  fields: readonly Field[];
}

export const MAX_REGISTERS_PER_READ = 125;
export const MAX_BITS_PER_READ = 2000;

const RANK: Record<PointPriority, number> = { critical: 0, normal: 1, diagnostic: 2 };

export interface PlanOptions {
  maxRegisters?: number;
  maxBits?: number;
  /** Per-priority poll intervals overriding the profile's defaults (e.g. from the gateway config). */
  intervals?: Partial<Record<PointPriority, number>>;
}

/**
 * Turns a profile's fields into as few reads as possible: fields are grouped by table and
 * priority, and adjacent (or shared) registers are merged into one read up to the protocol limit.
 * A field that shares a register with a higher-priority field rides along in the faster read, so a
 * status register is never read twice.
 */
export function buildReadPlan(profile: RegisterProfile, options: PlanOptions = {}): ReadBlock[] {
  const priorityOf = new Map(profile.points.map((p) => [p.point, p.priority]));
  const best = new Map<string, number>(); // "table:address" → best rank touching that register
  const key = (table: string, address: number) => `${table}:${address}`;
  const rankOf = (f: Field) => RANK[priorityOf.get(f.point) ?? 'normal'];
  for (const f of profile.fields) {
    for (let a = f.address; a < f.address + fieldWidth(f); a++) {
      const k = key(f.table, a);
      best.set(k, Math.min(best.get(k) ?? 2, rankOf(f)));
    }
  }
  const effectiveRank = (f: Field) => {
    let rank = rankOf(f);
    for (let a = f.address; a < f.address + fieldWidth(f); a++)
      rank = Math.min(rank, best.get(key(f.table, a)) ?? 2);
    return rank;
  };

  const groups = new Map<string, Field[]>();
  for (const f of profile.fields) {
    const g = `${f.table}|${effectiveRank(f)}`;
    const list = groups.get(g) ?? [];
    list.push(f);
    groups.set(g, list);
  }

  const priorities: PointPriority[] = ['critical', 'normal', 'diagnostic'];
  const blocks: ReadBlock[] = [];
  for (const [g, fields] of groups) {
    const [table, rankText] = g.split('|') as [RegisterTable, string];
    const priority = priorities[Number(rankText)]!;
    const intervalMs = options.intervals?.[priority] ?? profile.intervals[priority];
    const limit =
      table === 'coil' || table === 'discrete'
        ? (options.maxBits ?? MAX_BITS_PER_READ)
        : (options.maxRegisters ?? MAX_REGISTERS_PER_READ);
    fields.sort((a, b) => a.address - b.address);
    let current: { address: number; end: number; fields: Field[] } | undefined;
    const flush = () => {
      if (!current) return;
      const count = current.end - current.address;
      blocks.push({
        id: `${table}:${current.address}+${count}@${priority}`,
        table,
        address: current.address,
        count,
        priority,
        intervalMs,
        fields: current.fields,
      });
    };
    for (const f of fields) {
      const end = f.address + fieldWidth(f);
      if (current && f.address <= current.end && Math.max(end, current.end) - current.address <= limit) {
        current.end = Math.max(current.end, end);
        current.fields.push(f);
      } else {
        flush();
        current = { address: f.address, end, fields: [f] };
      }
    }
    flush();
  }
  return blocks.sort((a, b) => RANK[a.priority] - RANK[b.priority] || a.address - b.address);
}
