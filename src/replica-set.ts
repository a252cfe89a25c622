import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CLUSTER_LABEL, FOLLOWER_ROLE, ROLE_LABEL, clusterLabels } from './labels';
import { DEFAULT_REPLICAS, addMemberSet } from './member-statefulset';
import type { PostgresCluster } from './postgres-cluster';
import { ReplicationMode } from './replication';
import { Resources } from './resources';
import { StorageOptions } from './storage';

/**
 * Settings of the streaming replicas.
 */
export interface ReplicaSetOptions {
  /**
   * Number of streaming replicas (0 for a single-instance cluster without failover, at most 12).
   * Changing it touches only the replica StatefulSet.
   * @default 2
   */
  readonly count?: number;

  /**
   * How commits are confirmed by the replicas.
   * @default ReplicationMode.ASYNCHRONOUS
   */
  readonly mode?: ReplicationMode;

  /**
   * With a synchronous mode: how many replicas confirm each commit (at most `count`).
   * @default 1
   */
  readonly synchronousStandbys?: number;

  /**
   * A replica further behind the primary than this is never promoted by a failover.
   * @default Size.mebibytes(32)
   */
  readonly maximumLagOnFailover?: Size;

  /**
   * CPU and memory of each replica's postgres container.
   * @default - the cluster's `resources`
   */
  readonly resources?: Resources;

  /**
   * Each replica's persistent volume.
   * @default - the cluster's `storage`
   */
  readonly storage?: StorageOptions;
}

/**
 * Properties of a {@link ReplicaSet}.
 */
export interface ReplicaSetProps extends ReplicaSetOptions {
  /** The cluster these members belong to. */
  readonly cluster: PostgresCluster;
}

/**
 * The streaming replicas: a StatefulSet `<cluster>-replica` of N pods in the same Patroni cluster,
 * and the read-only Service `<cluster>-replicas`, which selects members Patroni labels replica.
 * A replica with no data waits for a leader, then clones it and streams through its own
 * replication slot. Created by {@link PostgresCluster}; reach it as `cluster.replicas`.
 */
export class ReplicaSet extends Construct {
  /** Name of the StatefulSet (pods `<name>-0` ... `<name>-<count-1>`). */
  public readonly statefulSetName: string;
  /** Name of the read-only Service. */
  public readonly serviceName: string;
  /** Number of replicas. */
  public readonly count: number;
  /** The StatefulSet (L1), for escape-hatch changes. */
  public readonly statefulSet: kplus.k8s.KubeStatefulSet;

  constructor(scope: Construct, id: string, props: ReplicaSetProps) {
    super(scope, id);
    const ctx = props.cluster._memberContext;
    const count = props.count ?? DEFAULT_REPLICAS;
    this.count = count;
    this.statefulSetName = `${ctx.clusterName}-replica`;
    this.serviceName = `${ctx.clusterName}-replicas`;
    const { statefulSet } = addMemberSet(this, ctx, {
      nodeSet: 'replica',
      statefulSetName: this.statefulSetName,
      replicas: count,
      resources: props.resources ?? props.cluster.resources,
      storage: { ...props.cluster.storage, ...props.storage },
      waitForLeader: true,
      resourcesProperty: props.resources ? 'replicas.resources' : 'resources',
      storageProperty: props.storage?.size ? 'replicas.storage' : 'storage',
    });
    this.statefulSet = statefulSet;
    new kplus.k8s.KubeService(this, 'Service', {
      metadata: { name: this.serviceName, labels: clusterLabels(ctx.clusterName) },
      spec: {
        type: 'ClusterIP',
        selector: { [CLUSTER_LABEL]: ctx.clusterName, [ROLE_LABEL]: FOLLOWER_ROLE },
        ports: [{ name: 'postgres', port: ctx.port, targetPort: kplus.k8s.IntOrString.fromString('postgres'), protocol: 'TCP' }],
      },
    });
  }
}
