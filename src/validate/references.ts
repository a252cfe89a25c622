/**
 * References between objects: what a pod template needs (ConfigMaps, Secrets, ServiceAccounts,
 * claims), volume mounts, RBAC bindings. A reference that resolves to nothing leaves pods stuck
 * in ContainerCreating or a Job forbidden.
 */
import { Finding, findingsOf } from './finding';
import { Manifest, PodTemplate, allContainers, objectRef, ofKind, podTemplates } from './manifest';

/** The objects a pod template refers to, as `Kind/name`. */
export function references(t: PodTemplate): string[] {
  const refs: string[] = [];
  const spec = t.spec;
  if (spec.serviceAccountName) refs.push(`ServiceAccount/${spec.serviceAccountName}`);
  for (const s of spec.imagePullSecrets ?? []) refs.push(`Secret/${s.name}`);
  for (const v of spec.volumes ?? []) {
    if (v.configMap) refs.push(`ConfigMap/${v.configMap.name}`);
    if (v.secret) refs.push(`Secret/${v.secret.secretName}`);
    if (v.persistentVolumeClaim) refs.push(`PersistentVolumeClaim/${v.persistentVolumeClaim.claimName}`);
    for (const src of v.projected?.sources ?? []) {
      if (src.configMap) refs.push(`ConfigMap/${src.configMap.name}`);
      if (src.secret) refs.push(`Secret/${src.secret.name}`);
    }
  }
  for (const c of allContainers(spec)) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.configMapKeyRef) refs.push(`ConfigMap/${e.valueFrom.configMapKeyRef.name}`);
      if (e.valueFrom?.secretKeyRef) refs.push(`Secret/${e.valueFrom.secretKeyRef.name}`);
    }
    for (const e of c.envFrom ?? []) {
      if (e.configMapRef) refs.push(`ConfigMap/${e.configMapRef.name}`);
      if (e.secretRef) refs.push(`Secret/${e.secretRef.name}`);
    }
  }
  return refs;
}

/** The credential Secrets the library's credentials Job creates (its SECRETS env var: `name=user` pairs). */
export function jobCreatedSecrets(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const job of ofKind(manifests, 'Job')) {
    for (const c of job.spec?.template?.spec?.containers ?? []) {
      const secrets = (c.env ?? []).find((e: any) => e.name === 'SECRETS');
      if (secrets) out.push(...String(secrets.value).split(/\s+/).filter(Boolean).map((pair) => pair.split('=')[0]));
    }
  }
  return out;
}

/** The Secrets cert-manager creates for the Certificates in the output (their spec.secretName). */
export function certManagerSecrets(manifests: readonly Manifest[]): string[] {
  return manifests.filter((m) => m.apiVersion === 'cert-manager.io/v1' && m.kind === 'Certificate').map((m) => m.spec?.secretName);
}

/**
 * References that resolve to no object in the output. Secrets created in the cluster (by the
 * credentials Job or cert-manager), `knownSecrets`, and the claims StatefulSets' claim templates
 * create count as present.
 */
export function danglingReferences(manifests: readonly Manifest[], knownSecrets: readonly string[] = []): string[] {
  const emitted = new Set(manifests.map((m) => objectRef(m)));
  // The claims a StatefulSet's volumeClaimTemplates create: <template>-<statefulset>-<ordinal>.
  for (const sts of ofKind(manifests, 'StatefulSet')) {
    for (const t of sts.spec?.volumeClaimTemplates ?? []) {
      for (let i = 0; i < (sts.spec?.replicas ?? 1); i++) emitted.add(`PersistentVolumeClaim/${t.metadata?.name}-${sts.metadata.name}-${i}`);
    }
  }
  const allowed = new Set([...jobCreatedSecrets(manifests), ...certManagerSecrets(manifests), ...knownSecrets].map((s) => `Secret/${s}`));
  const dangling: string[] = [];
  for (const t of podTemplates(manifests)) {
    // Once per object and reference, however many volumes and env vars name it.
    for (const ref of new Set(references(t))) {
      if (!emitted.has(ref) && !allowed.has(ref)) dangling.push(`${objectRef(t.owner)} -> ${ref}`);
    }
  }
  return dangling;
}

/** Volume mounts that name neither a volume of the pod nor a claim template of its StatefulSet. */
export function unknownVolumeMounts(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const t of podTemplates(manifests)) {
    const volumes = new Set<string>([
      ...(t.spec.volumes ?? []).map((v: any) => v.name),
      ...(t.owner.spec?.volumeClaimTemplates ?? []).map((v: any) => v.metadata?.name),
    ]);
    for (const ctr of allContainers(t.spec)) {
      for (const mount of ctr.volumeMounts ?? []) {
        if (!volumes.has(mount.name)) out.push(`${objectRef(t.owner)} container ${ctr.name}: volume mount ${mount.name} names no volume or claim template`);
      }
    }
  }
  return out;
}

/** RoleBindings whose Role or ServiceAccounts are not in the output. */
export function danglingBindings(manifests: readonly Manifest[]): string[] {
  const emitted = new Set(manifests.map((m) => objectRef(m)));
  const out: string[] = [];
  for (const b of ofKind(manifests, 'RoleBinding')) {
    const where = objectRef(b);
    const ref = b.roleRef ?? {};
    if (ref.kind === 'Role' && !emitted.has(`Role/${ref.name}`)) out.push(`${where}: binds Role/${ref.name}, which is not in the output`);
    for (const s of b.subjects ?? []) {
      if (s.kind === 'ServiceAccount' && !emitted.has(`ServiceAccount/${s.name}`)) {
        out.push(`${where}: binds ServiceAccount/${s.name}, which is not in the output`);
      }
    }
  }
  return out;
}

/**
 * The references findings: ConfigMaps, ServiceAccounts and claims are errors when missing;
 * a missing Secret is a warning (it may be created outside the output, by you).
 */
export function referenceFindings(manifests: readonly Manifest[]): Finding[] {
  const dangling = danglingReferences(manifests);
  const secret = (line: string) => line.includes('-> Secret/');
  return [
    ...findingsOf('references', 'error', dangling.filter((l) => !secret(l)).map((l) => `${l}: not in the output`)),
    ...findingsOf('references', 'warning', dangling.filter(secret).map((l) => `${l}: not in the output and not created by the credentials Job or cert-manager; it must exist in the cluster`)),
    ...findingsOf('references', 'error', [...unknownVolumeMounts(manifests), ...danglingBindings(manifests)]),
  ];
}
