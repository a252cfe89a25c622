export * from './postgres-cluster';
export * from './primary-node';
export * from './replica-set';
export * from './replication';
export * from './failover-timing';
export * from './image';
export * from './resources';
export * from './storage';
