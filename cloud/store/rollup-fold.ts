/**
 * Folding numeric readings into count/min/max/sum/last buckets, shared by the memory and SQLite
 * adapters (PostgreSQL does the same in SQL). Buckets merge associatively — counts and sums add,
 * min/max combine, `last` is the value with the greatest (cloudTs, seq) — so folding a set of
 * readings once, in any split, gives the same rollup; the watermark makes sure it is once.
 */
import { bucketStart } from './common.js';
import type { RollupRow } from './port.js';

export interface RollupBucket {
  gateway: string;
  device: string;
  point: string;
  bucket: number;
  sitePath: string;
  count: number;
  min: number;
  max: number;
  sum: number;
  last: number;
  lastTs: number;
  lastSeq: number;
}

export interface FoldableReading {
  gateway: string;
  device: string;
  point: string;
  sitePath: string;
  cloudTs: number;
  seq: number;
  num: number;
}

export const rollupKey = (b: { gateway: string; device: string; point: string; bucket: number }) =>
  `${b.gateway}\u0000${b.device}\u0000${b.point}\u0000${b.bucket}`;

/** Merges `add` into `into` (or returns a copy of `add`). */
export function mergeBucket(into: RollupBucket | undefined, add: RollupBucket): RollupBucket {
  if (!into) return { ...add };
  const addIsLater = add.lastTs > into.lastTs || (add.lastTs === into.lastTs && add.lastSeq >= into.lastSeq);
  return {
    ...into,
    count: into.count + add.count,
    min: Math.min(into.min, add.min),
    max: Math.max(into.max, add.max),
    sum: into.sum + add.sum,
    last: addIsLater ? add.last : into.last,
    lastTs: addIsLater ? add.lastTs : into.lastTs,
    lastSeq: addIsLater ? add.lastSeq : into.lastSeq,
  };
}

export function foldReadings(readings: Iterable<FoldableReading>, size: number): Map<string, RollupBucket> {
  const out = new Map<string, RollupBucket>();
  for (const r of readings) {
    const one: RollupBucket = {
      gateway: r.gateway,
      device: r.device,
      point: r.point,
      bucket: bucketStart(r.cloudTs, size),
      sitePath: r.sitePath,
      count: 1,
      min: r.num,
      max: r.num,
      sum: r.num,
      last: r.num,
      lastTs: r.cloudTs,
      lastSeq: r.seq,
    };
    const key = rollupKey(one);
    out.set(key, mergeBucket(out.get(key), one));
  }
  return out;
}

export function toRollupRow(b: {
  gateway: string;
  device: string;
  point: string;
  bucket: number;
  count: number;
  min: number;
  max: number;
  sum: number;
  last: number;
}): RollupRow {
  return {
    gateway: b.gateway,
    device: b.device,
    point: b.point,
    bucket: b.bucket,
    count: b.count,
    min: b.min,
    max: b.max,
    avg: b.sum / b.count,
    last: b.last,
  };
}
