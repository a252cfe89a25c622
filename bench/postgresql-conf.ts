// postgresql.conf text for the benchmarks' configurations (bench/tuning-params.ts and
// bench/tuning-ablation.ts write the same format).

/** A parameter value as the library renders it. */
export type ParamValue = string | number | boolean;

/** One `name = value` line per parameter: numbers bare, everything else single-quoted. */
export function confLines(params: Record<string, ParamValue>): string {
  const quote = (v: ParamValue) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
  return Object.entries(params).map(([k, v]) => `${k} = ${quote(v)}\n`).join('');
}
