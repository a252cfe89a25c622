/**
 * What a set of manifests needs in the Kubernetes cluster but does not contain, so a user knows
 * before `kubectl apply`: the Namespaces its objects go to, the Secrets its pods read that
 * nothing in the output or the cluster's own Jobs and cert-manager create, the CRDs of its custom
 * kinds, the StorageClasses its claims name, the cert-manager issuers its Certificates use.
 */
import { Manifest, ofKind, podTemplates } from './manifest';
import { certManagerSecrets, jobCreatedSecrets, references } from './references';

/** One thing the cluster must have before the manifests are applied. */
export interface Prerequisite {
  /** `Namespace`, `Secret`, `CustomResourceDefinition`, `StorageClass`, `Issuer` or `ClusterIssuer`. */
  readonly kind: string;
  readonly name: string;
  /** Its namespace, for a namespaced object. */
  readonly namespace?: string;
  /** The objects that need it, as `Kind/name`, sorted. */
  readonly neededBy: readonly string[];
}

const ref = (m: Manifest) => `${m.kind}/${m.metadata.name}`;

/** True for an API group Kubernetes itself serves (the core group, `apps`, `*.k8s.io`). */
export function isBuiltInGroup(apiVersion: string): boolean {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  return !group.includes('.') || group.endsWith('.k8s.io');
}

/** The name of the CRD that serves a custom kind: `<lower-case plural>.<group>`. */
export function crdName(apiVersion: string, kind: string): string {
  const lower = kind.toLowerCase();
  const plural = /(s|x|ch|sh)$/.test(lower) ? `${lower}es` : /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
  return `${plural}.${apiVersion.split('/')[0]}`;
}

/** The prerequisites of a set of manifests, sorted by kind, namespace and name. */
export function prerequisites(manifests: readonly Manifest[]): Prerequisite[] {
  const found = new Map<string, { kind: string; name: string; namespace?: string; neededBy: Set<string> }>();
  const need = (kind: string, name: unknown, namespace: string | undefined, by: Manifest) => {
    if (typeof name !== 'string' || name === '') return;
    const key = `${kind}\u0000${namespace ?? ''}\u0000${name}`;
    const entry = found.get(key) ?? { kind, name, namespace, neededBy: new Set<string>() };
    entry.neededBy.add(ref(by));
    found.set(key, entry);
  };
  const inNamespace = (m: Manifest, namespace?: string) => namespace === undefined || (m.metadata.namespace ?? namespace) === namespace;
  const has = (kind: string, name: string, namespace?: string) =>
    manifests.some((m) => m.kind === kind && m.metadata.name === name && inNamespace(m, namespace));

  // Namespaces the objects go to that the output does not create.
  for (const m of manifests) {
    const ns = m.metadata.namespace;
    if (typeof ns === 'string' && !has('Namespace', ns)) need('Namespace', ns, undefined, m);
  }
  // Secrets the pods read that nothing creates.
  const created = new Set([...jobCreatedSecrets(manifests), ...certManagerSecrets(manifests)]);
  for (const t of podTemplates(manifests)) {
    for (const r of references(t)) {
      const [kind, name] = [r.slice(0, r.indexOf('/')), r.slice(r.indexOf('/') + 1)];
      if (kind === 'Secret' && !created.has(name) && !has('Secret', name, t.owner.metadata.namespace)) need('Secret', name, t.owner.metadata.namespace, t.owner);
    }
  }
  // CRDs of custom kinds the output uses but does not define.
  const definedCrds = new Set(ofKind(manifests, 'CustomResourceDefinition').map((m) => m.metadata.name));
  for (const m of manifests) {
    if (typeof m.apiVersion !== 'string' || isBuiltInGroup(m.apiVersion)) continue;
    const crd = crdName(m.apiVersion, m.kind);
    if (!definedCrds.has(crd)) need('CustomResourceDefinition', crd, undefined, m);
  }
  // StorageClasses the claims and claim templates name.
  const classes = new Set(ofKind(manifests, 'StorageClass').map((m) => m.metadata.name));
  const claimClass = (c: any) => (typeof c?.spec?.storageClassName === 'string' ? c.spec.storageClassName : undefined);
  for (const m of manifests) {
    const claims = m.kind === 'PersistentVolumeClaim' ? [m] : m.kind === 'StatefulSet' ? (Array.isArray(m.spec?.volumeClaimTemplates) ? m.spec.volumeClaimTemplates : []) : [];
    for (const c of claims) {
      const sc = claimClass(c);
      if (sc !== undefined && !classes.has(sc)) need('StorageClass', sc, undefined, m);
    }
  }
  // cert-manager issuers the Certificates use that the output does not contain.
  for (const m of manifests) {
    if (!(typeof m.apiVersion === 'string' && m.apiVersion.startsWith('cert-manager.io/') && m.kind === 'Certificate')) continue;
    const issuer = m.spec?.issuerRef;
    const kind = issuer?.kind === 'ClusterIssuer' ? 'ClusterIssuer' : 'Issuer';
    const namespace = kind === 'Issuer' ? m.metadata.namespace : undefined;
    if (typeof issuer?.name === 'string' && !has(kind, issuer.name, namespace)) need(kind, issuer.name, namespace, m);
  }
  const order = ['CustomResourceDefinition', 'Namespace', 'StorageClass', 'ClusterIssuer', 'Issuer', 'Secret'];
  return [...found.values()]
    .map((e) => ({ kind: e.kind, name: e.name, ...(e.namespace !== undefined ? { namespace: e.namespace } : {}), neededBy: [...e.neededBy].sort() }))
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name));
}

/** One line per prerequisite: `Secret orders/orders-db-s3 (needed by StatefulSet/orders-db-primary and 5 more)`. */
export function prerequisiteLines(list: readonly Prerequisite[]): string[] {
  return list.map((p) => {
    const by = p.neededBy.length > 1 ? `${p.neededBy[0]} and ${p.neededBy.length - 1} more` : p.neededBy[0];
    return `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} (needed by ${by})`;
  });
}
