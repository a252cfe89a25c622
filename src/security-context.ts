import * as kplus from 'cdk8s-plus-27';

/**
 * The container security context of every container the library emits: the Pod Security
 * Standards "restricted" profile (non-root, no privilege escalation, no capabilities,
 * RuntimeDefault seccomp) with a read-only root file system.
 *
 * @internal
 */
export function restrictedContainer(): kplus.k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * The pod security context: run as the image's uid/gid (and, with `fsGroup`, own the volumes),
 * non-root, RuntimeDefault seccomp.
 *
 * @internal
 */
export function restrictedPod(uid: number, gid: number, fsGroup: boolean): kplus.k8s.PodSecurityContext {
  return {
    runAsUser: uid,
    runAsGroup: gid,
    ...(fsGroup ? { fsGroup: gid, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
