/**
 * A scanner for credentials in synthesized objects: Secret objects, password-like keys with a
 * literal value (in ConfigMap data, parsed YAML/JSON in it, and container env) and key material.
 */
import { parse } from 'yaml';
import { Manifest, allContainers, podTemplates } from './manifest';

/** Words that make a key password-like when they are its last word (`PGPASSWORD`, `client_secret`, `apiToken`). */
const SECRET_WORDS = ['password', 'passwd', 'pwd', 'secret', 'token'];

/** PEM (`-----BEGIN PRIVATE KEY-----`, certificates, OpenSSH keys). */
const KEY_MATERIAL = /-----BEGIN [A-Z0-9 ]*-----/;

/**
 * Whether a key names a credential: its last word (split at `_`, `-`, `.`, and camelCase) is one of
 * password, passwd, pwd, secret or token. `SECRET_LABELS`, `secretName`, `password_encryption`
 * and `sslkey` are not; `PGPASSWORD` is (its last word ends in `password`).
 */
export function isSecretKey(key: string): boolean {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').split(/[^A-Za-z0-9]+/).filter(Boolean);
  const last = (words[words.length - 1] ?? '').toLowerCase();
  return SECRET_WORDS.some((w) => last === w || (w !== 'pwd' && w !== 'token' && last.endsWith(w)));
}

/** A value that is written out rather than read from elsewhere. */
function isLiteral(v: unknown): boolean {
  return (typeof v === 'string' && v.trim() !== '') || typeof v === 'number';
}

/**
 * Credentials in text: a password-like key assigned a quoted literal (`"password": "x"`,
 * `password = 'x'`), an upper-case shell assignment of a bare word (`PGPASSWORD=x`), a URL with
 * a password (`postgres://u:p@h`), and key material.
 */
function textLeaks(where: string, text: string): string[] {
  const out: string[] = [];
  const quoted = /["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*[:=]\s*(["'])([^"'\n]+)\2/g;
  for (const m of text.matchAll(quoted)) if (isSecretKey(m[1])) out.push(`${where}: ${m[1]} has a literal value`);
  const shell = /(?:^|[\s;])([A-Z_][A-Z0-9_]*)=([^\s"'$`(][^\s;]*)/gm;
  for (const m of text.matchAll(shell)) if (isSecretKey(m[1])) out.push(`${where}: ${m[1]} has a literal value`);
  // A URL with a password, unless the password is a printf placeholder filled in at run time
  // (the credentials Job formats the connection URIs it stores in Secrets).
  for (const m of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^/\s:@"']+:([^/\s@"'$]+)@/gi)) {
    if (m[1] !== '%s') out.push(`${where}: URL with a password`);
  }
  if (KEY_MATERIAL.test(text)) out.push(`${where}: key material (-----BEGIN)`);
  return out;
}

/** Credentials in parsed structured data: password-like keys with literal values. */
function structuredLeaks(where: string, v: unknown, known: ReadonlySet<string>): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) {
    v.forEach((x, i) => out.push(...structuredLeaks(`${where}[${i}]`, x, known)));
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (isSecretKey(k) && isLiteral(x) && !known.has(String(x))) out.push(`${where}.${k}: ${k} has a literal value`);
      out.push(...structuredLeaks(`${where}.${k}`, x, known));
    }
  }
  return out;
}

/** Parses a ConfigMap entry as YAML (JSON is YAML) when its name says it is. */
function parsedEntry(key: string, text: string): unknown {
  if (!/\.(ya?ml|json)$/.test(key)) return undefined;
  return parse(text);
}

/**
 * Names of the Secrets the objects create or refer to (Certificates, CA Issuers, pod volumes and
 * env references, the credentials Job's list). A password-like key whose value is one of these
 * names (`DATABASE_CA_SECRET: orders-ca`) points to a Secret; it is not a credential.
 */
export function secretNames(manifests: readonly Manifest[]): Set<string> {
  const names = new Set<string>();
  for (const m of manifests) {
    if (m.apiVersion === 'cert-manager.io/v1' && m.kind === 'Certificate') names.add(m.spec.secretName);
    if (m.apiVersion === 'cert-manager.io/v1' && m.spec?.ca?.secretName) names.add(m.spec.ca.secretName);
  }
  for (const t of podTemplates(manifests)) {
    for (const v of t.spec.volumes ?? []) if (v.secret) names.add(v.secret.secretName);
    for (const ctr of allContainers(t.spec)) {
      for (const e of ctr.env ?? []) {
        if (e.valueFrom?.secretKeyRef) names.add(e.valueFrom.secretKeyRef.name);
        if (e.name === 'SECRETS' && t.owner.kind === 'Job') for (const pair of String(e.value).split(/\s+/)) names.add(pair.split('=')[0]);
      }
      for (const e of ctr.envFrom ?? []) if (e.secretRef) names.add(e.secretRef.name);
    }
  }
  names.delete('');
  return names;
}

/** Every credential the objects would publish, one line each (empty when none). */
export function secretLeaks(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  const known = secretNames(manifests);
  const isCredential = (key: string, value: unknown) => isSecretKey(key) && isLiteral(value) && !known.has(String(value));
  for (const m of manifests) {
    if (m.kind === 'Secret') out.push(`Secret/${m.metadata.name}: Secret objects must not be emitted (they would carry credentials in the YAML)`);
  }
  for (const cm of manifests.filter((m) => m.kind === 'ConfigMap')) {
    const entries: Array<[string, string]> = [
      ...Object.entries<string>(cm.data ?? {}),
      ...Object.entries<string>(cm.binaryData ?? {}).map(([k, b64]): [string, string] => [k, Buffer.from(b64, 'base64').toString('latin1')]),
    ];
    for (const [key, text] of entries) {
      const where = `ConfigMap/${cm.metadata.name} ${key}`;
      if (isCredential(key, text)) out.push(`${where}: ${key} has a literal value`);
      out.push(...textLeaks(where, text));
      out.push(...structuredLeaks(where, parsedEntry(key, text), known));
    }
  }
  for (const t of podTemplates(manifests)) {
    for (const ctr of allContainers(t.spec)) {
      for (const e of ctr.env ?? []) {
        if (e.value === undefined) continue;
        const where = `${t.owner.kind}/${t.owner.metadata.name} container ${ctr.name} env ${e.name}`;
        if (isCredential(e.name, e.value)) out.push(`${where}: ${e.name} has a literal value`);
        out.push(...textLeaks(where, String(e.value)));
      }
    }
  }
  // Key material anywhere else (annotations, custom resources, arguments).
  for (const m of manifests) {
    if (m.kind === 'ConfigMap' || m.kind === 'Secret') continue;
    if (KEY_MATERIAL.test(JSON.stringify(m))) out.push(`${m.kind}/${m.metadata.name}: key material (-----BEGIN)`);
  }
  return out;
}
