/**
 * Names and labels Kubernetes accepts: object names (DNS-1123 labels or subdomains as the kind
 * requires), container, port and volume names, label keys and values.
 */
import { Finding, findingsOf } from './finding';
import { Manifest, allContainers, objectRef, podTemplates } from './manifest';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label: at most 63 lower-case letters, digits and '-', alphanumeric at both ends. */
export function isDnsLabel(s: string): boolean {
  return typeof s === 'string' && s.length <= 63 && DNS1123_LABEL.test(s);
}

/** A DNS-1123 subdomain: dot-separated labels, at most 253 characters. */
export function isDnsSubdomain(s: string): boolean {
  return typeof s === 'string' && s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/** A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export function isLabelKey(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1];
  if (parts.length === 2 && !isDnsSubdomain(parts[0])) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}

/** A label value: empty, or at most 63 characters of alphanumerics, '-', '_' and '.', alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
  return typeof value === 'string' && (value === '' || (value.length <= 63 && LABEL_NAME.test(value)));
}

/** A named container port: an IANA service name (at most 15 characters, a letter, no `--`). */
export function isPortName(name: string): boolean {
  return name.length <= 15 && IANA_SVC_NAME.test(name) && /[a-z]/.test(name) && !name.includes('--');
}

/** Kinds whose names must be DNS labels (they become host names, label values or DNS names). */
export const LABEL_NAMED_KINDS: ReadonlySet<string> = new Set(['Service', 'Namespace', 'StatefulSet', 'Job', 'CronJob', 'Deployment']);

/** The longest StatefulSet name: pods are `<name>-<ordinal>` with a controller-revision-hash label `<name>-<hash>`. */
export const MAX_STATEFULSET_NAME = 52;

/** Every label set in an object: metadata, pod template, claim templates and selectors. */
export function labelSets(m: Manifest): Array<[string, Record<string, string>]> {
  const out: Array<[string, Record<string, string>]> = [];
  const add = (where: string, labels: Record<string, string> | undefined) => {
    if (labels) out.push([`${m.kind}/${m.metadata.name} ${where}`, labels]);
  };
  add('metadata.labels', m.metadata.labels);
  add('spec.selector', m.kind === 'Service' ? m.spec?.selector : m.spec?.selector?.matchLabels);
  add('spec.template.metadata.labels', m.spec?.template?.metadata?.labels);
  for (const [i, t] of (m.spec?.volumeClaimTemplates ?? []).entries()) add(`volumeClaimTemplates[${i}]`, t.metadata?.labels);
  for (const [i, c] of (m.spec?.template?.spec?.topologySpreadConstraints ?? []).entries()) {
    add(`topologySpreadConstraints[${i}]`, c.labelSelector?.matchLabels);
  }
  return out;
}

/** Object names and namespaces that Kubernetes would refuse, and StatefulSet names too long for their pods. */
export function badObjectNames(manifests: readonly Manifest[]): string[] {
  const bad: string[] = [];
  for (const m of manifests) {
    const labelNamed = LABEL_NAMED_KINDS.has(m.kind);
    const ok = labelNamed ? isDnsLabel(m.metadata.name) : isDnsSubdomain(m.metadata.name);
    if (!ok) {
      bad.push(`${objectRef(m)}: the name must be a DNS-1123 ${labelNamed ? 'label (at most 63 lower-case letters, digits, \'-\')' : 'subdomain'}`);
    }
    if (m.metadata.namespace !== undefined && !isDnsLabel(m.metadata.namespace)) {
      bad.push(`${objectRef(m)}: namespace ${JSON.stringify(m.metadata.namespace)} is not a DNS-1123 label`);
    }
    if (m.kind === 'StatefulSet' && m.metadata.name.length > MAX_STATEFULSET_NAME) {
      bad.push(`${objectRef(m)}: the name is longer than ${MAX_STATEFULSET_NAME} characters (its pods' revision label would be too long)`);
    }
  }
  return bad;
}

/** Container, port and volume names that Kubernetes would refuse, and containers named twice in a pod. */
export function badPodNames(manifests: readonly Manifest[]): string[] {
  const bad: string[] = [];
  for (const t of podTemplates(manifests)) {
    const where = objectRef(t.owner);
    const ctrs = allContainers(t.spec);
    const names = ctrs.map((c) => c.name);
    for (const dup of names.filter((n, i) => names.indexOf(n) !== i)) bad.push(`${where}: container name ${dup} is used twice`);
    for (const ctr of ctrs) {
      if (!isDnsLabel(ctr.name)) bad.push(`${where} container ${ctr.name}: the name must be a DNS-1123 label`);
      for (const p of ctr.ports ?? []) {
        if (p.name !== undefined && !isPortName(p.name)) bad.push(`${where} container ${ctr.name}: port name ${p.name} must be an IANA service name (at most 15 characters)`);
      }
    }
    for (const v of t.spec.volumes ?? []) if (!isDnsLabel(v.name)) bad.push(`${where}: volume name ${v.name} must be a DNS-1123 label`);
  }
  return bad;
}

/** Label keys and values that Kubernetes would refuse, in metadata, selectors and templates. */
export function badLabels(manifests: readonly Manifest[]): string[] {
  const bad: string[] = [];
  for (const m of manifests) {
    for (const [where, labels] of labelSets(m)) {
      for (const [k, v] of Object.entries(labels)) {
        if (!isLabelKey(k)) bad.push(`${where}: label key ${JSON.stringify(k)} is not a valid label key`);
        if (!isLabelValue(v)) bad.push(`${where}: label ${k} value ${JSON.stringify(v)} is not a valid label value (at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends)`);
      }
    }
  }
  return bad;
}

/** Objects that share kind, namespace and name (the second would overwrite the first). */
export function duplicateObjects(manifests: readonly Manifest[]): string[] {
  const keys = manifests.map((m) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`);
  return manifests
    .filter((_m, i) => keys.indexOf(keys[i]) !== i)
    .map((m) => `${objectRef(m)}: defined more than once${m.metadata.namespace ? ` in namespace ${m.metadata.namespace}` : ''}`);
}

/** The names and labels findings of a set of objects. */
export function nameFindings(manifests: readonly Manifest[]): Finding[] {
  return [
    ...findingsOf('names', 'error', [...badObjectNames(manifests), ...badPodNames(manifests), ...duplicateObjects(manifests)]),
    ...findingsOf('names', 'error', badLabels(manifests)),
  ];
}
