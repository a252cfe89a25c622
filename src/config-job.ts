import { createHash } from 'crypto';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PostgresImage } from './image';
import { clusterLabels } from './labels';
import { JOB_TTL_SECONDS } from './monitoring-defaults';
import { APPLY_CONFIG_SCRIPT } from './render/scripts';
import { ResolvedScheduling, withScheduling } from './scheduling';
import { toolPodSpec } from './tool-pod';

const k8s = kplus.k8s;

/** The label value of the config Job's pods (NetworkPolicies select them by it). @internal */
export const CONFIG_JOB_NAME_LABEL = 'postgresql-config';

/** Top-level DCS keys the library sets only in some configurations: absent means "delete". */
const REMOVABLE_KEYS = ['ignore_slots'];

const TLS_DIR = '/etc/postgres-tls/client';

/** @internal */
export interface ConfigJobProps {
  readonly clusterName: string;
  readonly image: PostgresImage;
  /** Patroni's `bootstrap.dcs` as synthesized: the declaration the Job applies. */
  readonly dynamicConfig: Record<string, unknown>;
  /** Every member's REST API base URL (`https://<pod>.<headless>:<port>`). */
  readonly memberUrls: string[];
  /** Secret with ca.crt, tls.crt and tls.key of a certificate of the cluster CA (the server's); undefined without TLS. */
  readonly tlsSecretName?: string;
  /** Where the Job's pod may run. */
  readonly scheduling?: ResolvedScheduling;
}

/**
 * The Job that applies the cluster-wide (DCS) settings to a running cluster, and the suspended
 * CronJob `<cluster>-restart` whose Jobs restart every member in the same safe order. Patroni reads
 * `bootstrap.dcs` only when it creates the cluster; this Job, named after a hash of its spec,
 * runs again whenever the declared settings (or the members) change: it patches Patroni's
 * configuration through the REST API and restarts the members that need it, replicas first, one
 * at a time, the leader last (src/scripts/apply-config.py).
 *
 * @internal
 */
export class ConfigJob extends Construct {
  /** The Job's name: `<cluster>-config-<hash>`. */
  public readonly jobName: string;

  constructor(scope: Construct, id: string, props: ConfigJobProps) {
    super(scope, id);
    const labels = { ...clusterLabels(props.clusterName), 'app.kubernetes.io/name': CONFIG_JOB_NAME_LABEL };
    const spec: kplus.k8s.JobSpec = {
      backoffLimit: 6,
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      template: {
        metadata: { labels },
        spec: withScheduling(toolPodSpec({
          image: props.image,
          fsGroup: true,
          name: 'apply-config',
          command: [props.image.python3Path, '-c', APPLY_CONFIG_SCRIPT],
          env: [
            { name: 'PATH', value: props.image.searchPath },
            { name: 'PGC_CONFIG', value: JSON.stringify({ config: props.dynamicConfig, removable: REMOVABLE_KEYS }) },
            { name: 'PGC_MEMBERS', value: props.memberUrls.join(' ') },
            { name: 'PGC_TLS_DIR', value: props.tlsSecretName ? TLS_DIR : '' },
            { name: 'PGC_WAIT_SECONDS', value: '600' },
          ],
          volumeMounts: props.tlsSecretName ? [{ name: 'tls', mountPath: TLS_DIR, readOnly: true }] : undefined,
          // 0440: root-owned, readable by the pod's fsGroup only.
          volumes: props.tlsSecretName
            ? [{ name: 'tls', secret: { secretName: props.tlsSecretName, items: ['ca.crt', 'tls.crt', 'tls.key'].map((k) => ({ key: k, path: k })), defaultMode: 0o440 } }]
            : undefined,
        }), props.scheduling),
      },
    };
    this.jobName = `${props.clusterName}-config-${createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 8)}`;
    new k8s.KubeJob(this, 'Job', { metadata: { name: this.jobName, labels }, spec });

    // The same program restarting every member in the same order: never scheduled, the template
    // of `kubectl pg restart` (or `kubectl create job --from=cronjob/<cluster>-restart`).
    const restartSpec: kplus.k8s.JobSpec = JSON.parse(JSON.stringify(spec));
    restartSpec.template.spec!.containers[0].env!.push({ name: 'PGC_RESTART', value: 'all' });
    // The CronJob's history limits bound its Jobs, as for every CronJob of the library.
    delete (restartSpec as { ttlSecondsAfterFinished?: number }).ttlSecondsAfterFinished;
    new k8s.KubeCronJob(this, 'Restart', {
      metadata: { name: `${props.clusterName}-restart`, labels },
      spec: {
        schedule: '0 0 1 1 *',
        suspend: true,
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 1,
        jobTemplate: { metadata: { labels }, spec: restartSpec },
      },
    });
  }
}
