import { createHash } from 'crypto';
import { Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PostgresImage } from './image';
import { clusterLabels } from './labels';
import { JOB_TTL_SECONDS } from './monitoring-defaults';
import { ENSURE_SECRETS_SCRIPT } from './render/scripts';
import { ResolvedScheduling, withScheduling } from './scheduling';
import { toolPodSpec } from './tool-pod';

const k8s = kplus.k8s;

/** A Secret the Job creates when it is missing. @internal */
export interface GeneratedSecret {
  readonly secretName: string;
  readonly username: string;
  /** Declared password rotation (0 or undefined: never rotated). */
  readonly passwordRotation?: number;
}

/** @internal */
export interface CredentialsJobProps {
  readonly clusterName: string;
  readonly image: PostgresImage;
  readonly secrets: GeneratedSecret[];
  readonly scriptsConfigMapName: string;
  readonly scriptsMountPath: string;
  /** Connection details of user Secrets (filled until synth). */
  readonly connections: Record<string, unknown>;
  /** Secrets that also get PgBouncer's userlist.txt. */
  readonly userlists: string[];
  /** Where the Job's pod may run. */
  readonly scheduling?: ResolvedScheduling;
}

/**
 * An in-cluster Job that creates the cluster's missing credential Secrets with random passwords,
 * so that no password ever appears in the synthesized YAML and a fresh `kubectl apply` needs no
 * manual step (member pods wait for the Secrets, then start). Existing Secrets are never changed,
 * except the password of a Secret whose declared `passwordRotation` is above the one the Secret
 * records (then the Role may also update exactly those Secrets). Its name carries a hash of its spec: a changed spec is a new Job, never an update of an
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
    // Secrets whose password is rotated: the Job may update exactly these (no rule when none).
    const rotated = () => props.secrets.filter((s) => (s.passwordRotation ?? 0) > 0);
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, labels },
      rules: Lazy.any({
        produce: () => [
          // create cannot be limited to names; get is limited to the cluster's own Secrets.
          { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
          { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: props.secrets.map((s) => s.secretName) },
          ...(rotated().length > 0
            ? [{ apiGroups: [''], resources: ['secrets'], verbs: ['update'], resourceNames: rotated().map((s) => s.secretName) }] : []),
        ],
      }) as unknown as kplus.k8s.PolicyRule[],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name }],
    });
    const render = (): kplus.k8s.JobSpec => ({
      backoffLimit: 10,
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      template: {
        metadata: { labels },
        spec: withScheduling(toolPodSpec({
          image: props.image,
          serviceAccountName: name,
          fsGroup: false,
          name: 'ensure-secrets',
          command: [props.image.python3Path, `${props.scriptsMountPath}/ensure-secrets.py`],
          env: [
            { name: 'SECRETS', value: props.secrets.map((s) => `${s.secretName}=${s.username}`).join(' ') },
            { name: 'PATH', value: props.image.searchPath },
            { name: 'SECRET_LABELS', value: JSON.stringify(labels) },
            ...(Object.keys(props.connections).length > 0 ? [{ name: 'SECRET_CONNECTIONS', value: JSON.stringify(props.connections) }] : []),
            ...(props.userlists.length > 0 ? [{ name: 'SECRET_USERLISTS', value: props.userlists.join(' ') }] : []),
            ...(rotated().length > 0
              ? [{ name: 'SECRET_ROTATIONS', value: JSON.stringify(Object.fromEntries(rotated().map((s) => [s.secretName, s.passwordRotation]))) }] : []),
          ],
          volumeMounts: [{ name: 'scripts', mountPath: props.scriptsMountPath, readOnly: true }],
          volumes: [{ name: 'scripts', configMap: { name: props.scriptsConfigMapName, defaultMode: 0o555 } }],
        }), props.scheduling),
      },
    });
    // Rendered at synth: users added after the cluster was built get their Secrets too.
    const jobName = Lazy.any({
      produce: () => `${name}-${createHash('sha256').update(JSON.stringify(render())).update(ENSURE_SECRETS_SCRIPT).digest('hex').slice(0, 8)}`,
    }) as unknown as string;
    new k8s.KubeJob(this, 'Job', { metadata: { name: jobName, labels }, spec: Lazy.any({ produce: render }) as unknown as kplus.k8s.JobSpec });
  }
}
