/**
 * Pure pieces of the drop policy, shared by every implementation through OutboxEngine.
 */

/** How far below the cap eviction goes: cap × (1 − slack), so a full store evicts in chunks. */
export function evictionTarget(cap: number, slack: number): number {
  return Math.floor(cap * (1 - slack));
}

/**
 * Thinning: within a window of the oldest rows, keep every Nth row of each series (the 1st, the
 * N+1th, …) and return the rest for deletion. Grouping by series matters: with readings of k points
 * interleaved round-robin, a global "every Nth row" would erase whole points whenever N divides k.
 * Rows without a series form one group. Thinning an already thinned head again makes old data
 * progressively sparser, which is the intent: recent history stays dense.
 */
export function thinningVictims<Row extends { series: string | null }>(
  window: readonly Row[],
  keepEvery: number,
): Row[] {
  if (keepEvery <= 1) return [];
  const positionInSeries = new Map<string, number>();
  const victims: Row[] = [];
  for (const row of window) {
    const series = row.series ?? '';
    const position = positionInSeries.get(series) ?? 0;
    positionInSeries.set(series, position + 1);
    if (position % keepEvery !== 0) victims.push(row);
  }
  return victims;
}

/**
 * How many of the oldest rows a thinning pass must look at to free about `need` rows when it keeps
 * one row in `keepEvery`.
 */
export function thinningWindow(need: number, keepEvery: number): number {
  return Math.ceil((need * keepEvery) / (keepEvery - 1));
}

/** Turns sorted-or-not seqs into runs of consecutive integers, so deletes can use `BETWEEN a AND b`. */
export function consecutiveRuns(seqs: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const seq of sorted) {
    const last = runs[runs.length - 1];
    if (last && seq === last[1] + 1) last[1] = seq;
    else runs.push([seq, seq]);
  }
  return runs;
}
