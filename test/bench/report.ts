/**
 * How a benchmark reports a figure: a human line plus a machine-readable RESULT line that
 * scripts/run-bench.mjs collects into the summary. Targets are never loosened to pass.
 */
export function report(result: {
  name: string;
  value: number;
  unit: string;
  target: number;
  /** '>=' when more is better, '<=' when less is better. */
  comparator: '>=' | '<=';
  note?: string;
}): void {
  const ok = result.comparator === '>=' ? result.value >= result.target : result.value <= result.target;
  const value = Number.isInteger(result.value) ? result.value : Number(result.value.toPrecision(4));
  console.log(
    `${ok ? 'ok  ' : 'MISS'} ${result.name}: ${value} ${result.unit} (target ${result.comparator} ${result.target})${
      result.note ? ` — ${result.note}` : ''
    }`,
  );
  console.log(`RESULT ${JSON.stringify({ ...result, value, ok })}`);
}

/**
 * A figure with no target of its own, printed beside the ones that have (e.g. the same measurement
 * under a one-time condition): an `info` line and an INFO line for the summary.
 */
export function info(result: { name: string; value: number; unit: string; note?: string }): void {
  const value = Number.isInteger(result.value) ? result.value : Number(result.value.toPrecision(4));
  console.log(`info ${result.name}: ${value} ${result.unit}${result.note ? ` — ${result.note}` : ''}`);
  console.log(`INFO ${JSON.stringify({ ...result, value })}`);
}
