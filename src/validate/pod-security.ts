/**
 * A checker for the Pod Security Standards "restricted" profile (which includes "baseline"),
 * rule by rule, so that a failure names the object, the container and the rule broken.
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/
 */

/** The container security context every container the library emits must have (restricted, read-only root). */
export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The volume types the restricted profile allows. */
export const RESTRICTED_VOLUME_TYPES: readonly string[] = [
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret',
];

/** Capabilities a restricted container may add back after dropping ALL. */
const ADDABLE_CAPABILITIES = ['NET_BIND_SERVICE'];

/** The object that owns a pod template, as `Kind/name`. */
export interface PodOwner {
  readonly kind: string;
  readonly metadata: { readonly name: string };
}

/**
 * Every restricted-profile violation of a pod spec, one string per broken rule, each naming the
 * owner (`StatefulSet/db-primary`), the container when the rule is a container's, and the rule.
 * Container-level settings override the pod's (runAsNonRoot, runAsUser, seccompProfile).
 */
export function restrictedViolations(owner: PodOwner, spec: any): string[] {
  const where = `${owner.kind}/${owner.metadata.name}`;
  const out: string[] = [];
  const pod = spec.securityContext ?? {};

  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[field] === true) out.push(`${where}: ${field} must be false`);
  }
  if (pod.runAsUser === 0) out.push(`${where}: runAsUser must not be 0`);
  if (pod.seccompProfile !== undefined && pod.seccompProfile.type !== 'RuntimeDefault') {
    out.push(`${where}: seccompProfile.type must be RuntimeDefault`);
  }
  for (const v of spec.volumes ?? []) {
    const types = Object.keys(v).filter((k) => k !== 'name');
    if (v.hostPath !== undefined) out.push(`${where} volume ${v.name}: hostPath volumes are not allowed`);
    for (const type of types) {
      if (type !== 'hostPath' && !RESTRICTED_VOLUME_TYPES.includes(type)) out.push(`${where} volume ${v.name}: ${type} volumes are not allowed`);
    }
  }

  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const ctr of containers) {
    const at = `${where} container ${ctr.name}`;
    const sc = ctr.securityContext ?? {};
    if (sc.privileged === true) out.push(`${at}: privileged must be false`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${at}: allowPrivilegeEscalation must be false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${at}: capabilities.drop must include ALL`);
    for (const cap of sc.capabilities?.add ?? []) {
      if (!ADDABLE_CAPABILITIES.includes(cap)) out.push(`${at}: capabilities.add must not include ${cap}`);
    }
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push(`${at}: runAsNonRoot must be true (pod or container)`);
    if (sc.runAsUser === 0) out.push(`${at}: runAsUser must not be 0`);
    if ((sc.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault') {
      out.push(`${at}: seccompProfile.type must be RuntimeDefault (pod or container)`);
    }
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${at}: procMount must be Default`);
    for (const p of ctr.ports ?? []) {
      if (p.hostPort !== undefined && p.hostPort !== 0) out.push(`${at}: port ${p.name ?? p.containerPort} must not set hostPort`);
    }
  }
  return out;
}
