import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CLUSTER_LABEL, LEADER_ROLE, ROLE_LABEL, serviceLabels } from './labels';
import { addMemberSet } from './member-statefulset';
import type { PostgresCluster } from './postgres-cluster';
import { PGBACKREST_PORT } from './render/pgbackrest';
import { Resources } from './resources';
import { SchedulingOptions, resolveScheduling } from './scheduling';
import { StorageOptions } from './storage';

/**
 * Settings of the preferred primary.
 */
export interface PrimaryNodeOptions {
  /**
   * CPU and memory of the postgres container.
   * @default - the cluster's `resources`
   */
  readonly resources?: Resources;

  /**
   * The member's persistent volume.
   * @default - the cluster's `storage`
   */
  readonly storage?: StorageOptions;

  /**
   * Where the preferred primary's pod may run (replaces the cluster's `scheduling`).
   * @default - the cluster's `scheduling`
   */
  readonly scheduling?: SchedulingOptions;
}

/**
 * Properties of a {@link PrimaryNode}.
 */
export interface PrimaryNodeProps extends PrimaryNodeOptions {
  /** The cluster this member belongs to. */
  readonly cluster: PostgresCluster;
}

/**
 * The preferred primary: a one-pod StatefulSet `<cluster>-primary` that bootstraps a new cluster,
 * and the read-write Service `<cluster>-primary`.
 *
 * "Preferred" because after a failover any member may lead: the Service does not select this pod
 * but whichever pod Patroni has labelled leader, so clients always reach the current primary.
 * Created by {@link PostgresCluster}; reach it as `cluster.primary`.
 */
export class PrimaryNode extends Construct {
  /** Name of the StatefulSet (its pod is `<name>-0`). */
  public readonly statefulSetName: string;
  /** Name of the read-write Service. */
  public readonly serviceName: string;
  /** The StatefulSet (L1), for escape-hatch changes. */
  public readonly statefulSet: kplus.k8s.KubeStatefulSet;

  /**
   * The cluster-wide (DCS) configuration as declared: what the config Job applies.
   * @internal
   */
  public readonly _dynamicConfig: Record<string, unknown>;

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

  constructor(scope: Construct, id: string, props: PrimaryNodeProps) {
    super(scope, id);
    const ctx = props.cluster._memberContext;
    this.statefulSetName = `${ctx.clusterName}-primary`;
    this.serviceName = ctx.primaryServiceName;
    const { statefulSet, dynamicConfig, templateHash, expandedClaimSize } = addMemberSet(this, ctx, {
      nodeSet: 'primary',
      statefulSetName: this.statefulSetName,
      replicas: 1,
      resources: props.resources ?? props.cluster.config.resources,
      storage: { ...props.cluster.storage, ...props.storage },
      waitForLeader: false,
      tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
      servesReads: true,
      resourcesProperty: props.resources ? 'primary.resources' : 'config.resources',
      storageProperty: props.storage?.size ? 'primary.storage' : 'storage',
      scheduling: resolveScheduling(this, 'primary.scheduling', props.scheduling),
    });
    this.statefulSet = statefulSet;
    this._templateHash = templateHash;
    this._expandedClaimSize = expandedClaimSize;
    this._dynamicConfig = dynamicConfig;
    new kplus.k8s.KubeService(this, 'Service', {
      metadata: { name: this.serviceName, labels: serviceLabels(ctx.clusterName) },
      spec: {
        type: 'ClusterIP',
        selector: { [CLUSTER_LABEL]: ctx.clusterName, [ROLE_LABEL]: LEADER_ROLE },
        ports: [
          { name: 'postgres', port: ctx.port, targetPort: kplus.k8s.IntOrString.fromString('postgres'), protocol: 'TCP' },
          // Backup Jobs reach the leader's pgBackRest server through the read-write Service.
          ...(ctx.backup?.archiving
            ? [{ name: 'pgbackrest', port: PGBACKREST_PORT, targetPort: kplus.k8s.IntOrString.fromString('pgbackrest'), protocol: 'TCP' }] : []),
        ],
      },
    });
  }
}
