/** Kubernetes resource quantities (`500m`, `1Gi`, `2`) as numbers. */

const FACTORS: Record<string, number> = {
  '': 1,
  'm': 1e-3,
  'k': 1e3,
  'Ki': 1024,
  'M': 1e6,
  'Mi': 1024 ** 2,
  'G': 1e9,
  'Gi': 1024 ** 3,
  'T': 1e12,
  'Ti': 1024 ** 4,
  'P': 1e15,
  'Pi': 1024 ** 5,
  'E': 1e18,
  'Ei': 1024 ** 6,
};

/** Parses a Kubernetes quantity into a number (bytes or cores); throws for anything else. */
export function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/.exec(q);
  if (!m) throw new Error(`unparseable quantity ${q}`);
  return Number(m[1]) * FACTORS[m[2] ?? ''];
}

/** Whether a value is a quantity `quantity` can read. */
export function isQuantity(q: unknown): q is string | number {
  if (typeof q === 'number') return Number.isFinite(q);
  return typeof q === 'string' && /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/.test(q);
}

/**
 * Bytes written the way Kubernetes users write them: the largest binary unit that gives a whole
 * number or one exact decimal (`512Mi`, `1.5Gi`, `4288Mi`, `10Gi`).
 */
export function formatBytes(bytes: number): string {
  const units: Array<[string, number]> = [['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]];
  for (const [unit, size] of units) {
    const v = bytes / size;
    if (v >= 1 && Number.isInteger(v * 10)) return `${v}${unit}`;
  }
  return `${bytes}`;
}

/** Cores written the way Kubernetes does: `250m`, `1`, `1.5`. */
export function formatCpu(cores: number): string {
  if (cores < 1) return `${Math.round(cores * 1000)}m`;
  return `${Number(cores.toFixed(3))}`;
}
