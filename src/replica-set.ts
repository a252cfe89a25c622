import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { propError } from './errors';
import { CLUSTER_LABEL, FOLLOWER_ROLE, ROLE_LABEL, SERVES_READS_LABEL, serviceLabels } from './labels';
import { DEFAULT_REPLICAS, addMemberSet } from './member-statefulset';
import type { PostgresCluster } from './postgres-cluster';
import { Resources } from './resources';
import { SchedulingOptions, resolveScheduling } from './scheduling';
import { StorageOptions } from './storage';

/**
 * Settings of the streaming replicas.
 */
export interface ReplicaSetOptions {
  /**
   * Number of streaming replicas (0 for a single-instance cluster without failover; replicas
   * and delayed replicas together at most 12). Changing it touches only the replica StatefulSet.
   * @default 2
   */
  readonly count?: number;

  /**
   * CPU and memory of each replica's postgres container.
   * @default - the cluster's `config.resources`
   */
  readonly resources?: Resources;

  /**
   * Each replica's persistent volume.
   * @default - the cluster's `storage`
   */
  readonly storage?: StorageOptions;

  /**
   * Where these members' pods may run (replaces the cluster's `scheduling`).
   * @default - the cluster's `scheduling`
   */
  readonly scheduling?: SchedulingOptions;
}

/**
 * Settings of delayed replicas: members that replay WAL a fixed time behind the primary, so a
 * mistake (a dropped table) can be recovered from them before it reaches them. They are never
 * promoted, never synchronous standbys and never behind the read-only Service.
 */
export interface DelayedReplicaOptions extends ReplicaSetOptions {
  /** How far behind the primary they replay (recovery_min_apply_delay), in whole seconds. */
  readonly applyDelay: Duration;
}

/**
 * Properties of a {@link ReplicaSet}.
 */
export interface ReplicaSetProps extends ReplicaSetOptions {
  /** The cluster these members belong to. */
  readonly cluster: PostgresCluster;

  /**
   * Replay this far behind the primary: makes this a set of delayed replicas (`<cluster>-delayed`).
   * @default - streaming replicas with no delay
   */
  readonly applyDelay?: Duration;
}

/**
 * Streaming replicas: a StatefulSet `<cluster>-replica` of N pods in the same Patroni cluster,
 * and the read-only Service `<cluster>-replicas`, which selects members Patroni labels replica.
 * A replica with no data waits for a leader, then clones it and streams through its own
 * replication slot. With `applyDelay`, a StatefulSet `<cluster>-delayed` of delayed replicas and
 * no Service. Created by {@link PostgresCluster}; reach them as `cluster.replicas` and
 * `cluster.delayedReplicas`.
 */
export class ReplicaSet extends Construct {
  /** Name of the StatefulSet (pods `<name>-0` ... `<name>-<count-1>`). */
  public readonly statefulSetName: string;
  /** Name of the read-only Service (undefined for delayed replicas, which no Service routes to). */
  public readonly serviceName?: string;
  /** Number of replicas. */
  public readonly count: number;
  /** The StatefulSet (L1), for escape-hatch changes. */
  public readonly statefulSet: kplus.k8s.KubeStatefulSet;

  /**
   * A hash of the pod template as synthesized (what the config Job rolls out); valid at synth.
   * @internal
   */
  public readonly _templateHash: () => string;
  /**
   * The size the config Job expands this set's volume claims to (`storage.expandedSize`), if any.
   * @internal
   */
  public readonly _expandedClaimSize?: string;

  constructor(scope: Construct, id: string, props: ReplicaSetProps) {
    super(scope, id);
    const ctx = props.cluster._memberContext;
    const count = props.count ?? DEFAULT_REPLICAS;
    this.count = count;
    const delayed = props.applyDelay !== undefined;
    const prefix = delayed ? 'delayedReplicas' : 'replicas';
    let applyDelaySeconds: number | undefined;
    if (props.applyDelay) {
      const ms = props.applyDelay.toMilliseconds();
      if (ms % 1000 !== 0 || ms < 1000 || ms > 7 * 24 * 3600 * 1000) {
        throw propError(this, 'delayedReplicas.applyDelay', `${ms}ms`, 'must be a whole number of seconds from 1 s to 7 days');
      }
      applyDelaySeconds = ms / 1000;
    }
    this.statefulSetName = `${ctx.clusterName}-${delayed ? 'delayed' : 'replica'}`;
    const { statefulSet, templateHash, expandedClaimSize } = addMemberSet(this, ctx, {
      nodeSet: delayed ? 'delayed' : 'replica',
      statefulSetName: this.statefulSetName,
      replicas: count,
      resources: props.resources ?? props.cluster.config.resources,
      storage: { ...props.cluster.storage, ...props.storage },
      waitForLeader: true,
      tags: { nofailover: delayed, noloadbalance: delayed, clonefrom: false, nosync: delayed },
      applyDelaySeconds,
      servesReads: !delayed,
      resourcesProperty: props.resources ? `${prefix}.resources` : 'config.resources',
      storageProperty: props.storage?.size ? `${prefix}.storage` : 'storage',
      scheduling: resolveScheduling(this, `${prefix}.scheduling`, props.scheduling),
    });
    this.statefulSet = statefulSet;
    this._templateHash = templateHash;
    this._expandedClaimSize = expandedClaimSize;
    if (!delayed) {
      this.serviceName = `${ctx.clusterName}-replicas`;
      new kplus.k8s.KubeService(this, 'Service', {
        metadata: { name: this.serviceName, labels: serviceLabels(ctx.clusterName) },
        spec: {
          type: 'ClusterIP',
          selector: { [CLUSTER_LABEL]: ctx.clusterName, [ROLE_LABEL]: FOLLOWER_ROLE, [SERVES_READS_LABEL]: 'true' },
          ports: [{ name: 'postgres', port: ctx.port, targetPort: kplus.k8s.IntOrString.fromString('postgres'), protocol: 'TCP' }],
        },
      });
    }
  }
}
