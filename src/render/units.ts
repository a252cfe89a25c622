/** Bytes in one mebibyte. */
export const MiB = 1024 * 1024;

/**
 * Formats a byte count as a PostgreSQL memory setting in whole megabytes (PostgreSQL's `MB` is 1024 kB),
 * rounding down and never below 1MB.
 */
export function pgMegabytes(bytes: number): string {
  return `${Math.max(1, Math.floor(bytes / MiB))}MB`;
}

/**
 * Formats a byte count as a Kubernetes quantity in whole mebibytes, rounding down and never below 1Mi.
 */
export function k8sMebibytes(bytes: number): string {
  return `${Math.max(1, Math.floor(bytes / MiB))}Mi`;
}

/**
 * Parses a Kubernetes CPU quantity ("500m", "2", "1.5") into cores.
 */
export function parseCpuCores(amount: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(amount.trim());
  if (!m) throw new Error(`not a CPU quantity: ${JSON.stringify(amount)} (expected e.g. "500m" or "2")`);
  const n = Number(m[1]);
  return m[2] === 'm' ? n / 1000 : n;
}

const STORAGE_SUFFIXES: Record<string, number> = {
  '': 1, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'Ki': 1024, 'Mi': MiB, 'Gi': 1024 * MiB, 'Ti': 1024 * 1024 * MiB, 'Pi': 1024 ** 5,
};

/**
 * Parses a Kubernetes storage quantity as the API server writes it ("1Gi", "2048Mi", "500M",
 * "1e9", "512") into bytes; undefined when it is not one.
 */
export function parseStorageQuantity(value: string | undefined): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(?:[eE]([0-9]+)|([a-zA-Z]*))$/.exec(String(value ?? '').trim());
  if (!m) return undefined;
  const unit = m[2] !== undefined ? 10 ** Number(m[2]) : STORAGE_SUFFIXES[m[3] ?? ''];
  return unit === undefined ? undefined : Math.ceil(Number(m[1]) * unit);
}

/** Formats a byte count as a Kubernetes quantity for messages: the largest exact unit of Ti, Gi, Mi and Ki. */
export function formatQuantity(bytes: number): string {
  if (bytes !== 0 && bytes % (1024 * 1024 * MiB) === 0) return `${bytes / (1024 * 1024 * MiB)}Ti`;
  for (const [unit, size] of [['Gi', 1024 * MiB], ['Mi', MiB], ['Ki', 1024]] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}`;
}

/**
 * Parses a PostgreSQL memory setting ("64kB", "4MB", "1GB", "1TB", or a bare number in the
 * parameter's own unit: kB for most, MB for max_wal_size and the other WAL sizes) into bytes;
 * undefined when it is not one.
 */
export function parsePgMemory(value: string, bareUnit: 'kB' | 'MB' = 'kB'): number | undefined {
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/.exec(String(value));
  if (!m) return undefined;
  const unit = { kB: 1024, MB: MiB, GB: 1024 * MiB, TB: 1024 * 1024 * MiB }[(m[2] ?? bareUnit) as 'kB' | 'MB' | 'GB' | 'TB'];
  return Number(m[1]) * unit;
}
