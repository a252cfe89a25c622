export { PostgresCluster, PostgresClusterProps, PatroniDcs } from './postgres-cluster';
export { PrimaryNode, PrimaryNodeOptions, PrimaryNodeProps } from './primary-node';
export { ReplicaSet, ReplicaSetOptions, ReplicaSetProps } from './replica-set';
export { ReplicationMode } from './replication';
export { FailoverTiming, FailoverTimingOptions } from './failover-timing';
export { PostgresImage, PostgresImageOptions } from './image';
export { Resources, ResourcesOptions } from './resources';
export { StorageOptions } from './storage';
