import { createHash } from 'crypto';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PostgresImage } from './image';
import { clusterLabels } from './labels';
import { ENSURE_SECRETS_SCRIPT } from './render/scripts';

const k8s = kplus.k8s;

/** A Secret the Job creates when it is missing. @internal */
export interface GeneratedSecret {
  readonly secretName: string;
  readonly username: string;
}

/** @internal */
export interface CredentialsJobProps {
  readonly clusterName: string;
  readonly image: PostgresImage;
  readonly secrets: GeneratedSecret[];
  readonly scriptsConfigMapName: string;
  readonly scriptsMountPath: string;
}

/**
 * An in-cluster Job that creates the cluster's missing credential Secrets with random passwords,
 * so that no password ever appears in the synthesized YAML and a fresh `kubectl apply` needs no
 * manual step (member pods wait for the Secrets, then start). Existing Secrets are never changed.
 * Its name carries a hash of its spec: a changed spec is a new Job, never an update of an
 * immutable one.
 *
 * @internal
 */
export class CredentialsJob extends Construct {
  constructor(scope: Construct, id: string, props: CredentialsJobProps) {
    super(scope, id);
    // Not the members' `app.kubernetes.io/name`: the Job's pod must stay outside the member
    // selectors (headless Service, PodDisruptionBudget, topology spread).
    const labels = { ...clusterLabels(props.clusterName), 'app.kubernetes.io/name': 'postgresql-credentials' };
    const name = `${props.clusterName}-credentials`;
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name, labels }, automountServiceAccountToken: false });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, labels },
      rules: [
        // create cannot be limited to names; get is limited to the cluster's own Secrets.
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: props.secrets.map((s) => s.secretName), verbs: ['get'] },
      ],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name }],
    });
    const quantity = (v: string) => k8s.Quantity.fromString(v);
    const spec: kplus.k8s.JobSpec = {
      backoffLimit: 10,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          restartPolicy: 'OnFailure',
          securityContext: {
            runAsUser: props.image.uid,
            runAsGroup: props.image.gid,
            runAsNonRoot: true,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [{
            name: 'ensure-secrets',
            image: props.image.image,
            command: ['python3', `${props.scriptsMountPath}/ensure-secrets.py`],
            env: [
              { name: 'SECRETS', value: props.secrets.map((s) => `${s.secretName}=${s.username}`).join(' ') },
              { name: 'SECRET_LABELS', value: JSON.stringify(labels) },
            ],
            resources: {
              requests: { cpu: quantity('50m'), memory: quantity('64Mi') },
              limits: { cpu: quantity('200m'), memory: quantity('64Mi') },
            },
            securityContext: {
              allowPrivilegeEscalation: false,
              privileged: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            },
            volumeMounts: [{ name: 'scripts', mountPath: props.scriptsMountPath, readOnly: true }],
          }],
          volumes: [{ name: 'scripts', configMap: { name: props.scriptsConfigMapName, defaultMode: 0o555 } }],
        },
      },
    };
    const hash = createHash('sha256').update(JSON.stringify(spec)).update(ENSURE_SECRETS_SCRIPT).digest('hex').slice(0, 8);
    new k8s.KubeJob(this, 'Job', { metadata: { name: `${name}-${hash}`, labels }, spec });
  }
}
