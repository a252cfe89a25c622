import { createHash } from 'crypto';
import { Lazy } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PostgresImage } from './image';
import { CLUSTER_LABEL, clusterLabels, memberSelector } from './labels';
import { MEMBER_VOLUME_CLAIM } from './member-statefulset';
import { JOB_TTL_SECONDS } from './monitoring-defaults';
import { APPLY_CONFIG_SCRIPT } from './render/scripts';
import { ResolvedScheduling, withScheduling } from './scheduling';
import { toolPodSpec } from './tool-pod';

const k8s = kplus.k8s;

/** The label value of the config Job's pods (NetworkPolicies select them by it). @internal */
export const CONFIG_JOB_NAME_LABEL = 'postgresql-config';

/** How often the CronJob `<cluster>-reconcile` applies the declaration again. @internal */
export const RECONCILE_SCHEDULE = '*/5 * * * *';

/** Top-level DCS keys the library sets only in some configurations: absent means "delete". */
const REMOVABLE_KEYS = ['ignore_slots'];

const TLS_DIR = '/etc/postgres-tls/client';

/** A member StatefulSet the config Job rolls out. @internal */
export interface RolledStatefulSet {
  readonly name: string;
  /** Its pods' names. */
  readonly pods: string[];
  /** A hash of its pod template as synthesized; called at synth. */
  readonly templateHash: () => string;
  /** The size its pods' volume claims are expanded to (a quantity); undefined: left as they are. */
  readonly expandedClaimSize?: string;
}

/** @internal */
export interface ConfigJobProps {
  readonly clusterName: string;
  readonly image: PostgresImage;
  /** Patroni's `bootstrap.dcs` as synthesized: the declaration the Job applies. */
  readonly dynamicConfig: Record<string, unknown>;
  /** Every member's REST API base URL (`https://<pod>.<headless>:<port>`). */
  readonly memberUrls: string[];
  /** The member StatefulSets (updateStrategy OnDelete): the Job replaces their out-of-date pods. */
  readonly statefulSets: RolledStatefulSet[];
  /** Secret with ca.crt, tls.crt and tls.key of a certificate of the cluster CA (the server's); undefined without TLS. */
  readonly tlsSecretName?: string;
  /** Where the Job's pod may run. */
  readonly scheduling?: ResolvedScheduling;
}

/**
 * The Job that applies a changed declaration to a running cluster, and the suspended CronJob
 * `<cluster>-restart` whose Jobs restart every member in the same safe order. Patroni reads
 * `bootstrap.dcs` only when it creates the cluster, and the member StatefulSets replace no pod by
 * themselves (OnDelete); this Job, named after a hash of its spec (the declared settings, the
 * members and the StatefulSets' pod templates), runs again whenever one of them changes: it
 * patches Patroni's configuration through the REST API, replaces the members whose pod template is
 * out of date (replicas one at a time through the eviction API, a switchover, the old leader
 * last), and restarts the members that need it in the same order (src/scripts/apply-config.py).
 * The CronJob `<cluster>-reconcile` runs the same program every five minutes, so a declaration whose
 * Job already ran (a rollback to it) is applied too.
 *
 * @internal
 */
export class ConfigJob extends Construct {
  constructor(scope: Construct, id: string, props: ConfigJobProps) {
    super(scope, id);
    const labels = { ...clusterLabels(props.clusterName), 'app.kubernetes.io/name': CONFIG_JOB_NAME_LABEL };
    const name = `${props.clusterName}-config`;
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name, labels }, automountServiceAccountToken: false });
    // Each claim to expand, by name (`<template>-<pod>`, as the StatefulSet controller names them).
    const claims = props.statefulSets.flatMap((s) => (s.expandedClaimSize === undefined ? []
      : s.pods.map((pod) => ({ name: `${MEMBER_VOLUME_CLAIM}-${pod}`, size: s.expandedClaimSize! }))));
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, labels },
      rules: [
        // Whether each StatefulSet carries this Job's pod template, and its update revision.
        { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get'], resourceNames: props.statefulSets.map((s) => s.name) },
        // The members' revisions and readiness (list cannot be limited to names).
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        // Replacing an out-of-date member: an eviction, which the PodDisruptionBudget may refuse.
        { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'], resourceNames: props.statefulSets.flatMap((s) => s.pods) },
        // Taking turns with the other runs of the program (list cannot be limited to names).
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['list'] },
        // Growing the members' volumes: only the claims of storage.expandedSize, by name.
        ...(claims.length > 0 ? [{ apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'patch'], resourceNames: claims.map((c) => c.name) }] : []),
      ],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name }],
    });
    const selectorOf = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');
    const selector = selectorOf(memberSelector(props.clusterName));
    const jobSelector = selectorOf({ [CLUSTER_LABEL]: props.clusterName, 'app.kubernetes.io/name': CONFIG_JOB_NAME_LABEL });
    // Rendered at synth: the pod templates are complete only then (sidecars added later, patches).
    // `restart`: restart every member too; `ttl`: the Job of a declaration, removed a day after it
    // finished (the CronJobs' runs are bounded by their history limits instead).
    const render = (opts: { restart: boolean; ttl: boolean }): kplus.k8s.JobSpec => ({
      backoffLimit: 6,
      ttlSecondsAfterFinished: opts.ttl ? JOB_TTL_SECONDS : undefined,
      template: {
        metadata: { labels },
        spec: withScheduling(toolPodSpec({
          image: props.image,
          serviceAccountName: name,
          fsGroup: true,
          name: 'apply-config',
          command: [props.image.python3Path, '-c', APPLY_CONFIG_SCRIPT],
          env: [
            { name: 'PATH', value: props.image.searchPath },
            { name: 'PGC_CONFIG', value: JSON.stringify({ config: props.dynamicConfig, removable: REMOVABLE_KEYS }) },
            { name: 'PGC_MEMBERS', value: props.memberUrls.join(' ') },
            { name: 'PGC_TLS_DIR', value: props.tlsSecretName ? TLS_DIR : '' },
            { name: 'PGC_WAIT_SECONDS', value: '600' },
            { name: 'PGC_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            // Runs of the program take turns, oldest first (the Job of a change, the CronJobs' runs).
            { name: 'PGC_JOB_NAME', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } } },
            {
              name: 'PGC_ROLLOUT',
              value: JSON.stringify({
                selector,
                jobSelector,
                statefulSets: Object.fromEntries(props.statefulSets.map((s) => [s.name, s.templateHash()])),
              }),
            },
            ...(claims.length > 0 ? [{ name: 'PGC_EXPAND_CLAIMS', value: JSON.stringify(claims) }] : []),
            ...(opts.restart ? [{ name: 'PGC_RESTART', value: 'all' }] : []),
          ],
          volumeMounts: props.tlsSecretName ? [{ name: 'tls', mountPath: TLS_DIR, readOnly: true }] : undefined,
          // 0440: root-owned, readable by the pod's fsGroup only.
          volumes: props.tlsSecretName
            ? [{ name: 'tls', secret: { secretName: props.tlsSecretName, items: ['ca.crt', 'tls.crt', 'tls.key'].map((k) => ({ key: k, path: k })), defaultMode: 0o440 } }]
            : undefined,
        }), props.scheduling),
      },
    });
    const declared = { restart: false, ttl: true };
    const jobName = Lazy.any({
      produce: () => `${name}-${createHash('sha256').update(JSON.stringify(render(declared))).digest('hex').slice(0, 8)}`,
    }) as unknown as string;
    new k8s.KubeJob(this, 'Job', { metadata: { name: jobName, labels }, spec: Lazy.any({ produce: () => render(declared) }) as unknown as kplus.k8s.JobSpec });

    // The same program every few minutes: a Job named after a declaration runs once, so going back
    // to an earlier declaration while its Job still exists (a rollback within its TTL) would apply
    // nothing; the CronJob applies whatever is declared now. Idempotent: with nothing to change it
    // reads the cluster and exits.
    new k8s.KubeCronJob(this, 'Reconcile', {
      metadata: { name: `${props.clusterName}-reconcile`, labels },
      spec: {
        schedule: RECONCILE_SCHEDULE,
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 240,
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 1,
        jobTemplate: {
          metadata: { labels },
          spec: Lazy.any({ produce: () => render({ restart: false, ttl: false }) }) as unknown as kplus.k8s.JobSpec,
        },
      },
    });

    // The same program restarting every member in the same order: never scheduled, the template
    // of `kubectl pg restart` (or `kubectl create job --from=cronjob/<cluster>-restart`). The
    // CronJob's history limits bound its Jobs (no TTL), as for every CronJob of the library.
    new k8s.KubeCronJob(this, 'Restart', {
      metadata: { name: `${props.clusterName}-restart`, labels },
      spec: {
        schedule: '0 0 1 1 *',
        suspend: true,
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 1,
        jobTemplate: {
          metadata: { labels },
          spec: Lazy.any({ produce: () => render({ restart: true, ttl: false }) }) as unknown as kplus.k8s.JobSpec,
        },
      },
    });
  }
}
