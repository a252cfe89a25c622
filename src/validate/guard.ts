/**
 * Malformed input never stops `validate`: a check that throws on some object (a field deleted,
 * or null, a number or a list where a mapping belongs) is re-run without it, and the object gets
 * a finding naming the field the check was reading when it failed. The checks stay simple code
 * over well-formed objects; this is what turns their TypeErrors into findings.
 */
import { Finding } from './finding';
import { Manifest, objectRef } from './manifest';

/** One field a check read: its path and value. */
interface Read {
  readonly path: string;
  readonly value: unknown;
}

/** A view of `root` that records every field read, in order (the same proxy for the same object). */
function recording(root: object, reads: Read[]): any {
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown, path: string): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const known = proxies.get(value);
    if (known) return known;
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (typeof key !== 'string') return v;
        const array = Array.isArray(target);
        // Fields are a list's items and a mapping's keys, present or missing; not methods or length.
        const field = array ? /^\d+$/.test(key) : Object.prototype.hasOwnProperty.call(target, key) || !(key in target);
        if (!field) return v;
        const p = array ? `${path}[${key}]` : path ? `${path}.${key}` : key;
        reads.push({ path: p, value: v });
        if (reads.length > 500) reads.shift();
        return wrap(v, p);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  return wrap(root, '');
}

/**
 * The read the error comes from. V8's messages name the expression (`(spec.containers ?? []) is
 * not iterable`, `x.ports.map is not a function`): its last property is the field, when it has
 * one. Otherwise the last read whose value the error's words fit, a wrong scalar before a mapping
 * or list (which checks read all the time) and both before a missing field. Undefined when no
 * read fits.
 */
function culpritRead(reads: readonly Read[], error: Error): Read | undefined {
  const lastWhere = (fits: (v: unknown) => boolean) => [...reads].reverse().find((r) => fits(r.value));
  const message = error.message;
  const ofNull = /of (null|undefined) \(reading/.exec(message);
  if (ofNull) return lastWhere((v) => (ofNull[1] === 'null' ? v === null : v === undefined));
  if (/undefined or null to object/.test(message)) return lastWhere((v) => v === null || v === undefined);
  // Iterating a mapping seen through the recording proxy: V8 names no expression, and the
  // iteration itself reads only Symbol.iterator, so the field is the last one read.
  if (/^undefined is not a function/.test(message)) {
    const last = reads[reads.length - 1];
    const iterable = (v: unknown) => v !== null && v !== undefined && typeof (Object(v) as any)[Symbol.iterator] === 'function';
    return last && !iterable(last.value) ? last : undefined;
  }
  const notFunction = /^(.*)\.(\w+) is not a function/.exec(message);
  const notIterable = /^(.*?) is not iterable/.exec(message);
  if (!notFunction && !notIterable) return undefined;
  const lacks = notFunction
    ? (v: unknown) => v === null || v === undefined || typeof (Object(v) as any)[notFunction[2]] !== 'function'
    : (v: unknown) => v === null || v === undefined || typeof (Object(v) as any)[Symbol.iterator] !== 'function';
  const expression = (notFunction ?? notIterable)![1];
  const key = [...expression.matchAll(/\.([A-Za-z_$][\w$-]*)/g)].pop()?.[1];
  const named = key ? [...reads].reverse().find((r) => (r.path === key || r.path.endsWith(`.${key}`)) && lacks(r.value)) : undefined;
  return named
    ?? lastWhere((v) => v !== undefined && (typeof v !== 'object' || v === null) && lacks(v))
    ?? lastWhere((v) => v !== undefined && lacks(v))
    ?? lastWhere(lacks);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** How a check failed on an object: the error, and the field it was reading. */
interface Crash {
  readonly error: Error;
  readonly read?: Read;
}

/** Runs `run` with `suspect` seen through a recording proxy; undefined when it does not throw. */
function crashOf(run: (ms: readonly Manifest[]) => Finding[], manifests: readonly Manifest[], suspect: Manifest): Crash | undefined {
  const reads: Read[] = [];
  const proxy = recording(suspect, reads);
  try {
    run(manifests.map((m) => (m === suspect ? proxy : m)));
    return undefined;
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return { error, read: culpritRead(reads, error) };
  }
}

function throws(run: (ms: readonly Manifest[]) => Finding[], manifests: readonly Manifest[]): boolean {
  try {
    run(manifests);
    return false;
  } catch {
    return true;
  }
}

/** The finding of an object a check could not read. */
function unreadable(check: string, m: Manifest, crash: Crash): Finding {
  const ref = objectRef(m);
  const field = crash.read ? `field ${crash.read.path} is ${describe(crash.read.value)}: ` : '';
  return {
    check,
    severity: 'error',
    object: ref,
    message: `${ref}: ${field}the ${check} check cannot read it (${crash.error.message}); the other objects were checked`,
  };
}

/**
 * Runs one check over the objects. If it throws, finds the objects it fails on (alone, or, for a
 * failure only in company, the ones whose removal lets it pass), reports each with the field it
 * was reading, and returns the check's findings over the rest.
 */
export function guardedRun(check: string, run: (ms: readonly Manifest[]) => Finding[], manifests: readonly Manifest[]): Finding[] {
  let rest = [...manifests];
  const out: Finding[] = [];
  for (let round = 0; round < 8; round++) {
    let firstError: unknown;
    try {
      return [...out, ...run(rest)];
    } catch (err) {
      firstError = err;
    }
    const bad = new Map<Manifest, Crash>();
    for (const m of rest) {
      const crash = crashOf(run, [m], m);
      if (crash) bad.set(m, crash);
    }
    if (bad.size === 0) {
      for (const m of rest) {
        const others = rest.filter((x) => x !== m);
        if (throws(run, others)) continue;
        // Only an object holding a field the error fits: the others merely met the culprit.
        const crash = crashOf(run, rest, m);
        if (crash?.read) bad.set(m, crash);
      }
    }
    if (bad.size === 0) {
      const message = firstError instanceof Error ? firstError.message : String(firstError);
      out.push({ check, severity: 'error', object: '(objects)', message: `the ${check} check failed on these objects together and did not finish: ${message}` });
      return out;
    }
    for (const [m, crash] of bad) out.push(unreadable(check, m, crash));
    rest = rest.filter((m) => !bad.has(m));
  }
  out.push({ check, severity: 'error', object: '(objects)', message: `the ${check} check kept failing on malformed objects and stopped` });
  return out;
}

/** True when a document is a Kubernetes object the checks can look at: a mapping with a kind and a metadata.name. */
export function isObjectDocument(m: unknown): m is Manifest {
  const o = m as Manifest;
  return typeof o === 'object' && o !== null && !Array.isArray(o) && typeof o.kind === 'string'
    && typeof o.metadata === 'object' && o.metadata !== null && !Array.isArray(o.metadata) && typeof o.metadata.name === 'string';
}
