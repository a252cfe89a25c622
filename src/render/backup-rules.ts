/**
 * Synth-time rules for backup settings: each returns what is wrong with a value, or undefined.
 * Pure functions, so the constructs can name the property and the tests can check every rule.
 */

const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELDS: Array<{ name: string; min: number; max: number; names?: string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 7, names: DAYS },
];

/** What Kubernetes' CronJob controller would refuse in a schedule, or undefined. */
export function cronProblem(expression: string): string | undefined {
  const expr = expression.trim();
  if (expr.startsWith('@')) {
    return MACROS.includes(expr) ? undefined : `unknown macro (allowed: ${MACROS.join(', ')})`;
  }
  if (/^(TZ|CRON_TZ)=/.test(expr)) return 'set the time zone with schedules.timeZone, not in the expression';
  const fields = expr.split(/\s+/);
  if (fields.length !== 5) return `needs 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  for (const [i, field] of fields.entries()) {
    const f = FIELDS[i];
    const value = (token: string): number | undefined => {
      if (/^\d+$/.test(token)) return Number(token);
      const named = f.names?.indexOf(token.toLowerCase());
      return named !== undefined && named >= 0 ? named + (f.min === 1 ? 1 : 0) : undefined;
    };
    for (const part of field.split(',')) {
      const m = /^(\*|\?|[^/-]+(?:-[^/-]+)?)(?:\/(\d+))?$/.exec(part);
      if (!m) return `${f.name} field "${field}" is not a number, range, list or step`;
      if (m[2] !== undefined && Number(m[2]) < 1) return `${f.name} field "${field}" has a step below 1`;
      if (m[1] === '*' || m[1] === '?') continue;
      const bounds = m[1].split('-').map(value);
      if (bounds.some((b) => b === undefined || b < f.min || b > f.max)) {
        return `${f.name} field "${field}" is outside ${f.min}-${f.max}${f.names ? ` (or ${f.names[0]}-${f.names[f.names.length - 1]})` : ''}`;
      }
      if (bounds.length === 2 && bounds[0]! > bounds[1]!) return `${f.name} field "${field}" has a range that ends before it starts`;
    }
  }
  return undefined;
}

/** S3 bucket naming rules, or undefined. */
export function s3BucketProblem(bucket: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    return 'must be 3 to 63 lower-case letters, digits, "." and "-", starting and ending with a letter or digit';
  }
  if (bucket.includes('..') || bucket.includes('.-') || bucket.includes('-.')) return 'must not contain "..", ".-" or "-."';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return 'must not look like an IP address';
  return undefined;
}

/** Google Cloud Storage bucket naming rules, or undefined. */
export function gcsBucketProblem(bucket: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket)) {
    return 'must be 3 to 222 lower-case letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  }
  if (bucket.split('.').some((part) => part.length > 63)) return 'each dot-separated part must be at most 63 characters';
  if (bucket.startsWith('goog')) return 'must not start with "goog"';
  if (bucket.includes('google')) return 'must not contain "google"';
  return undefined;
}

/** Azure blob container naming rules, or undefined. */
export function azureContainerProblem(container: string): string | undefined {
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
    return 'must be 3 to 63 lower-case letters, digits and single "-", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Azure storage account naming rules, or undefined. */
export function azureAccountProblem(account: string): string | undefined {
  return /^[a-z0-9]{3,24}$/.test(account) ? undefined : 'must be 3 to 24 lower-case letters and digits';
}

/** An S3 endpoint: a host name or address, optionally with a port; or undefined. */
export function endpointProblem(endpoint: string): string | undefined {
  const m = /^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/.exec(endpoint);
  if (!m) return 'must be a host name with an optional port (no scheme, no path), for example "minio.storage.svc:9000"';
  if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535)) return 'port must be from 1 to 65535';
  return undefined;
}

/** A repository path: absolute, no `..`, no spaces or shell-special characters; or undefined. */
export function repoPathProblem(path: string): string | undefined {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(path)) return 'must be an absolute path of letters, digits, ".", "_", "-" and "/"';
  if (path.split('/').some((part) => part === '..' || part === '.')) return 'must not contain "." or ".." segments';
  if (path.length > 1 && path.endsWith('/')) return 'must not end with "/"';
  return undefined;
}

/**
 * What is wrong with a CronJob time zone, or undefined: it must be a name of the time-zone
 * database (checked against the one this runtime has), spelled with its capitals.
 */
export function timeZoneProblem(timeZone: string): string | undefined {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(timeZone)) return 'must be an IANA time zone name such as "Europe/Berlin" or "UTC"';
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en', { timeZone }).resolvedOptions().timeZone;
  } catch {
    const db = process.versions.tz ? `tzdata ${process.versions.tz}` : 'the runtime\'s time-zone database';
    const last = timeZone.split('/').pop()!.toLowerCase();
    // Intl.supportedValuesOf is Node 18+; typed loosely so the library's ES2020 lib compiles it.
    const zones = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
    const like = zones.filter((z) => z.toLowerCase().endsWith(`/${last}`));
    return `is not a time zone of ${db}${like.length > 0 ? `; did you mean ${like.map((z) => `"${z}"`).join(' or ')}?` : ' (names look like "Europe/Berlin" or "UTC")'}`;
  }
  // Intl accepts any case; Kubernetes (Go's time.LoadLocation) reads the file of that exact name.
  if (timeZone.split('/').some((part) => !/^[A-Z]/.test(part))) return `time zone names are case-sensitive: did you mean "${resolved}"?`;
  return undefined;
}
