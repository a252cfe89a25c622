import * as kplus from 'cdk8s-plus-27';
import { PostgresImage } from './image';
import { INIT_RESOURCES } from './monitoring-defaults';
import { restrictedContainer, restrictedPod } from './security-context';

const k8s = kplus.k8s;

/** What differs between the library's one-off programs. @internal */
export interface ToolPodOptions {
  readonly image: PostgresImage;
  /** The ServiceAccount whose token the program uses; undefined: no token is mounted. */
  readonly serviceAccountName?: string;
  /** Set the pod's fsGroup to the image's group (to read Secret files mounted 0440). */
  readonly fsGroup: boolean;
  readonly name: string;
  readonly command: string[];
  readonly env: kplus.k8s.EnvVar[];
  readonly volumeMounts?: kplus.k8s.VolumeMount[];
  readonly volumes?: kplus.k8s.Volume[];
}

/**
 * The pod of a one-off program of the library (the credentials, access, config and CA publisher
 * Jobs): one restricted container with small fixed resources, restarted on failure, no Service
 * links, a ServiceAccount token only when the program calls the Kubernetes API.
 *
 * @internal
 */
export function toolPodSpec(o: ToolPodOptions): kplus.k8s.PodSpec {
  const q = (v: string) => k8s.Quantity.fromString(v);
  return {
    serviceAccountName: o.serviceAccountName,
    automountServiceAccountToken: o.serviceAccountName !== undefined,
    enableServiceLinks: false,
    restartPolicy: 'OnFailure',
    securityContext: restrictedPod(o.image.uid, o.image.gid, o.fsGroup),
    containers: [{
      name: o.name,
      image: o.image.image,
      command: o.command,
      env: o.env,
      resources: {
        requests: { cpu: q(INIT_RESOURCES.cpuRequest.amount), memory: q('64Mi') },
        limits: { cpu: q(INIT_RESOURCES.cpuLimit.amount), memory: q('64Mi') },
      },
      securityContext: restrictedContainer(),
      volumeMounts: o.volumeMounts,
    }],
    volumes: o.volumes,
  };
}
