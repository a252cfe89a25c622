/**
 * Typed readers for the values of a spec file: each turns a plain YAML/JSON value into what a
 * construct prop takes (a Size, a Cpu, a Duration, an enum member, an object of props) or
 * throws a {@link SpecError} naming the field path, the bad value and what is allowed.
 * An object reader is a table of its fields: a new prop is one more row.
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';

/** A bad value in a spec file, at a field path such as `spec.replicas.count`. */
export class SpecError extends Error {
  constructor(public readonly path: string, public readonly value: unknown, public readonly rule: string) {
    super(`${path}: ${value === undefined ? 'missing' : `invalid value ${show(value)}`}: ${rule}`);
    this.name = 'SpecError';
  }
}

/** Renders a value for an error message. */
export function show(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) return String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/** What readers may need besides the value: the scope to create references to existing objects in. */
export interface ReadContext {
  readonly scope: Construct;
}

/** Reads one value at a path. */
export type Reader<T> = (value: unknown, path: string, ctx: ReadContext) => T;

/** A field of an object reader: how to read it, where it goes in the props, and its one-line help. */
export interface Field {
  readonly read: Reader<unknown>;
  /** The prop the value is stored under (defaults to the field's own name). */
  readonly prop?: string;
  readonly help: string;
  readonly required?: boolean;
}

/** The edit distance of two strings, to suggest the field a typo meant. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The known name closest to a typo, when it is close enough to be what was meant. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** The path of a field inside the value at `path` (the top level has an empty path). */
export function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A reader of a mapping, with its table of fields (for help and docs). */
export type ObjectReader<T> = Reader<T> & { readonly fields: Readonly<Record<string, Field>> };

/** An object with exactly these fields; an unknown field is an error naming it (and what it may have meant). */
export function object<T = Record<string, unknown>>(fields: Readonly<Record<string, Field>>): ObjectReader<T> {
  const reader = (value: unknown, path: string, ctx: ReadContext): T => {
    if (!isPlainObject(value)) throw new SpecError(path || '(top level)', value, `must be a mapping with the fields ${Object.keys(fields).join(', ')}`);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (!(key in fields)) {
        const guess = nearest(key, Object.keys(fields));
        const hint = guess ? `did you mean ${guess}? ` : '';
        throw new SpecError(at(path, key), value[key], `unknown field; ${hint}known fields here: ${Object.keys(fields).join(', ')}`);
      }
    }
    for (const [key, f] of Object.entries(fields)) {
      const v = value[key];
      if (v === undefined || v === null) {
        if (f.required) throw new SpecError(at(path, key), undefined, `required: ${f.help}`);
        continue;
      }
      out[f.prop ?? key] = f.read(v, at(path, key), ctx);
    }
    return out as T;
  };
  return Object.assign(reader, { fields });
}

/** A field. */
export function field(read: Reader<unknown>, help: string, options: { prop?: string; required?: boolean } = {}): Field {
  return { read, help, ...options };
}

/** A string (optionally matching a pattern). */
export function str(pattern?: RegExp, rule?: string): Reader<string> {
  return (v, path) => {
    if (typeof v !== 'string' || v === '') throw new SpecError(path, v, 'must be a non-empty string');
    if (pattern && !pattern.test(v)) throw new SpecError(path, v, rule ?? `must match ${pattern}`);
    return v;
  };
}

/** A whole number. Ranges are the constructs' to check (their errors say the range). */
export const integer: Reader<number> = (v, path) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new SpecError(path, v, 'must be a whole number');
  return v;
};

export const boolean: Reader<boolean> = (v, path) => {
  if (typeof v !== 'boolean') throw new SpecError(path, v, 'must be true or false');
  return v;
};

/** A list of items. */
export function list<T>(item: Reader<T>): Reader<T[]> {
  const reader = keepFields<T[]>((v, path, ctx) => {
    if (!Array.isArray(v)) throw new SpecError(path, v, 'must be a list');
    return v.map((x, i) => item(x, `${path}[${i}]`, ctx));
  }, item);
  return Object.assign(reader, { isList: true });
}

/** Whether a reader reads a list (the field reference writes its items' fields as `path[].field`). */
export function isListReader(reader: Reader<unknown>): boolean {
  return (reader as { isList?: boolean }).isList === true;
}

/** A mapping of names to strings (labels, env, parameters); numbers and booleans are written as strings. */
export const stringMap: Reader<Record<string, string>> = (v, path) => {
  if (!isPlainObject(v)) throw new SpecError(path, v, 'must be a mapping of names to values');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new SpecError(`${path}.${k}`, x, 'must be a string, number or boolean');
    out[k] = String(x);
  }
  return out;
};

/** A mapping of names to whole numbers (ports). */
export const integerMap: Reader<Record<string, number>> = (v, path, ctx) => {
  if (!isPlainObject(v)) throw new SpecError(path, v, 'must be a mapping of names to numbers');
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) out[k] = integer(x, `${path}.${k}`, ctx);
  return out;
};

/**
 * A member of a string enum: its value (`synchronous`, `ReadWriteOnce`), or its name in any
 * case with `-` for `_` (`synchronous-strict`, `cluster-issuer`).
 */
export function enumOf<E extends string>(enumObject: Record<string, E>): Reader<E> {
  const entries = Object.entries(enumObject);
  return (v, path) => {
    if (typeof v === 'string') {
      const norm = (s: string) => s.toLowerCase().replace(/_/g, '-');
      const hit = entries.find(([, val]) => val === v) ?? entries.find(([k, val]) => norm(val) === norm(v) || norm(k) === norm(v));
      if (hit) return hit[1];
    }
    throw new SpecError(path, v, `must be one of ${entries.map(([, val]) => val).join(', ')}`);
  };
}

const SIZE = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi)$/;
const SIZE_UNITS: Record<string, number> = { Ki: 1, Mi: 1024, Gi: 1024 ** 2, Ti: 1024 ** 3, Pi: 1024 ** 4 };

/** A size with a binary unit: `512Mi`, `4Gi`, `1.5Ti`. */
export const size: Reader<Size> = (v, path) => {
  const m = typeof v === 'string' ? SIZE.exec(v.trim()) : null;
  if (!m) throw new SpecError(path, v, 'must be a size with a binary unit: Ki, Mi, Gi, Ti or Pi (e.g. 512Mi, 4Gi)');
  const kib = Number(m[1]) * SIZE_UNITS[m[2]];
  if (!Number.isInteger(kib) || kib <= 0) throw new SpecError(path, v, 'must be a positive whole number of KiB');
  if (kib % 1024 ** 3 === 0) return Size.tebibytes(kib / 1024 ** 3);
  if (kib % 1024 ** 2 === 0) return Size.gibibytes(kib / 1024 ** 2);
  if (kib % 1024 === 0) return Size.mebibytes(kib / 1024);
  return Size.kibibytes(kib);
};

/** CPU: cores as a number (`2`, `0.5`) or millicores (`500m`). */
export const cpu: Reader<kplus.Cpu> = (v, path) => {
  if (typeof v === 'number' && v > 0) return Number.isInteger(v) ? kplus.Cpu.units(v) : kplus.Cpu.millis(Math.round(v * 1000));
  if (typeof v === 'string') {
    const m = /^([0-9]+)m$/.exec(v.trim());
    if (m && Number(m[1]) > 0) return kplus.Cpu.millis(Number(m[1]));
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n) && n > 0) return Number.isInteger(n) ? kplus.Cpu.units(n) : kplus.Cpu.millis(Math.round(n * 1000));
  }
  throw new SpecError(path, v, 'must be cores (2, 0.5) or millicores (500m)');
};

const DURATION = /^([0-9]+)(ms|s|m|h|d)$/;

/** A duration: a whole number and a unit, `500ms`, `30s`, `5m`, `1h`, `7d`. */
export const duration: Reader<Duration> = (v, path) => {
  const m = typeof v === 'string' ? DURATION.exec(v.trim()) : null;
  if (!m) throw new SpecError(path, v, 'must be a duration like 500ms, 30s, 5m, 1h or 7d');
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms': return Duration.millis(n);
    case 's': return Duration.seconds(n);
    case 'm': return Duration.minutes(n);
    case 'h': return Duration.hours(n);
    default: return Duration.days(n);
  }
};

/** The table of fields of a reader of mappings (kept through map and oneOf), for the field reference. */
export function fieldsOf(reader: Reader<unknown>): Readonly<Record<string, Field>> | undefined {
  return (reader as Partial<ObjectReader<unknown>>).fields;
}

function keepFields<T>(reader: Reader<T>, from: Reader<unknown>): Reader<T> {
  const fields = fieldsOf(from);
  return fields ? Object.assign(reader, { fields }) : reader;
}

/** One of several readers, chosen by the value's shape (a preset name or a mapping). */
export function oneOf<T>(byString: Reader<T>, byObject: Reader<T>): Reader<T> {
  return keepFields((v, path, ctx) => (typeof v === 'string' ? byString(v, path, ctx) : byObject(v, path, ctx)), byObject);
}

/** A value that must be one of named presets (`small`, `fast`, `disabled`). */
export function preset<T>(presets: Readonly<Record<string, () => T>>, orMapping = false): Reader<T> {
  return (v, path) => {
    const make = typeof v === 'string' ? presets[v.toLowerCase()] : undefined;
    if (!make) throw new SpecError(path, v, `must be one of ${Object.keys(presets).join(', ')}${orMapping ? ', or a mapping' : ''}`);
    return make();
  };
}

/** Maps what a reader returns. */
export function map<A, B>(reader: Reader<A>, f: (a: A, path: string, ctx: ReadContext) => B): Reader<B> {
  return keepFields((v, path, ctx) => f(reader(v, path, ctx), path, ctx), reader);
}

/** The name of a Secret that exists in the cluster, as the ISecret the props take. */
export const secretRef: Reader<kplus.ISecret> = (v, path, ctx) => {
  const name = str(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be the name of an existing Secret')(v, path, ctx);
  return kplus.Secret.fromSecretName(ctx.scope, `spec-secret-${path.replace(/[^A-Za-z0-9]/g, '-')}`, name);
};
