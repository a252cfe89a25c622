/** Label on every object of a cluster; its value is the cluster name (Patroni's scope label). */
export const CLUSTER_LABEL = 'postgres.cdk8s.io/cluster';
/** Label Patroni sets on each member pod to its current role. */
export const ROLE_LABEL = 'postgres.cdk8s.io/role';
/** Label telling the preferred primary's pod from the replica set's pods. */
export const NODE_SET_LABEL = 'postgres.cdk8s.io/node-set';
/** Label on the pods the read-only Service may route to (not on delayed replicas). */
export const SERVES_READS_LABEL = 'postgres.cdk8s.io/serves-reads';
/** Role label value of the leader: the read-write Service selects it. */
export const LEADER_ROLE = 'primary';
/** Role label value of a streaming replica: the read-only Service selects it. */
export const FOLLOWER_ROLE = 'replica';
/** Annotation carrying a hash of a pod's configuration: a configuration change is a new pod template, which the config Job rolls out. */
export const CONFIG_HASH_ANNOTATION = 'postgres.cdk8s.io/config-hash';

/**
 * Annotation on a member StatefulSet carrying a hash of its pod template as synthesized: the config
 * Job waits for it to see that the StatefulSet it rolls out is the one it was made for.
 */
export const TEMPLATE_HASH_ANNOTATION = 'postgres.cdk8s.io/template-hash';

/** Labels every object of the cluster carries. */
export function clusterLabels(clusterName: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'postgresql',
    'app.kubernetes.io/instance': clusterName,
    'app.kubernetes.io/managed-by': 'cdk8s-postgres-cluster',
    [CLUSTER_LABEL]: clusterName,
  };
}

/**
 * Labels of the library's own ConfigMaps (Patroni configuration, scripts, the CA certificate):
 * the cluster's labels with an `app.kubernetes.io/name` Patroni's label selector does not match,
 * so Patroni never lists them as DCS objects and `patronictl remove` (a delete-collection by that
 * selector) never deletes them.
 */
export function configMapLabels(clusterName: string, name = 'postgresql-config'): Record<string, string> {
  return { ...clusterLabels(clusterName), 'app.kubernetes.io/name': name };
}

/**
 * Labels of the member Services (read-write, read-only, headless): outside Patroni's label
 * selector too, because Kubernetes copies a Service's labels onto its Endpoints, which Patroni
 * lists (and `patronictl remove` deletes) in ENDPOINTS mode.
 */
export function serviceLabels(clusterName: string): Record<string, string> {
  return configMapLabels(clusterName, 'postgresql-service');
}

/** The labels that select every member pod of the cluster. */
export function memberSelector(clusterName: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'postgresql', [CLUSTER_LABEL]: clusterName };
}
