import { createHash } from 'crypto';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PostgresImage } from './image';
import { clusterLabels } from './labels';
import { JOB_TTL_SECONDS } from './monitoring-defaults';
import { PUBLISH_CA_SCRIPT } from './render/publish-ca-script';
import { toolPodSpec } from './tool-pod';

const k8s = kplus.k8s;

/** Where the publisher's pod sees the CA certificate. */
const CA_MOUNT = '/etc/postgres-ca-source';

/** @internal */
export interface CaPublisherProps {
  readonly clusterName: string;
  readonly image: PostgresImage;
  /** The server certificate's Secret, whose `ca.crt` is the CA that signed it. */
  readonly sourceSecretName: string;
  /** The ConfigMap clients mount (key `ca.crt`). */
  readonly configMapName: string;
  /** Decorates each pod template (scheduling, ...). */
  readonly podSpec?: (spec: kplus.k8s.PodSpec) => kplus.k8s.PodSpec;
}

/**
 * Publishes the cluster CA's certificate alone, for clients: the ConfigMap `<cluster>-ca-cert`
 * (key `ca.crt`, filled in the cluster), a Job that fills it when the manifests are applied and a
 * daily CronJob that keeps it current when the CA is renewed. The CA's private key is in a Secret
 * no application should ever read (whoever holds it can mint `CN=replicator` or a server
 * certificate); the server certificate's Secret holds the server's key. The publisher's pod
 * mounts only the `ca.crt` item of the server Secret and may only read and patch that one
 * ConfigMap.
 *
 * @internal
 */
export class CaPublisher extends Construct {
  constructor(scope: Construct, id: string, props: CaPublisherProps) {
    super(scope, id);
    // Not the members' `app.kubernetes.io/name`: outside Patroni's label selector and the member selectors.
    const labels = { ...clusterLabels(props.clusterName), 'app.kubernetes.io/name': 'postgresql-ca' };
    const name = `${props.clusterName}-publish-ca`;
    new k8s.KubeConfigMap(this, 'ConfigMap', {
      metadata: {
        name: props.configMapName,
        labels,
        annotations: { 'postgres.cdk8s.io/filled-by': `the Jobs of CronJob ${name}: ca.crt is copied from Secret ${props.sourceSecretName}` },
      },
    });
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name, labels }, automountServiceAccountToken: false });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, labels },
      // No right on Secrets: the kubelet mounts the certificate; the program reads a file.
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch'], resourceNames: [props.configMapName] }],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name }],
    });
    const spec: kplus.k8s.PodSpec = toolPodSpec({
      image: props.image,
      serviceAccountName: name,
      fsGroup: false,
      name: 'publish-ca',
      command: [props.image.python3Path, '-c', PUBLISH_CA_SCRIPT],
      env: [
        { name: 'CA_FILE', value: `${CA_MOUNT}/ca.crt` },
        { name: 'CA_CONFIGMAP', value: props.configMapName },
        { name: 'PATH', value: props.image.searchPath },
      ],
      volumeMounts: [{ name: 'ca', mountPath: CA_MOUNT, readOnly: true }],
      volumes: [{ name: 'ca', secret: { secretName: props.sourceSecretName, items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }],
    });
    const template: kplus.k8s.PodTemplateSpec = { metadata: { labels }, spec: props.podSpec ? props.podSpec(spec) : spec };
    const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 8);
    new k8s.KubeJob(this, 'Job', {
      metadata: { name: `${name}-${hash}`, labels },
      spec: { backoffLimit: 10, ttlSecondsAfterFinished: JOB_TTL_SECONDS, template },
    });
    new k8s.KubeCronJob(this, 'CronJob', {
      metadata: { name, labels },
      spec: {
        // Daily: a renewed CA (cert-manager renews it 30 days before it expires) reaches clients within a day.
        schedule: '17 3 * * *',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: { metadata: { labels }, spec: { backoffLimit: 3, template } },
      },
    });
  }
}
