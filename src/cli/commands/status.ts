/**
 * `status`: a cluster as the Kubernetes API has it, read the way Patroni itself records it (the
 * Kubernetes DCS keeps each member's state in its pod's `status` annotation and the leader lock in
 * `<cluster>-leader`), with the Services' endpoints, the backups' last runs and the certificates'
 * expiry. Reading needs only `get`/`list` in the namespace; no exec, no port-forward.
 */
import { CLUSTER_LABEL } from '../../labels';
import { MEMBER_VOLUME_CLAIM } from '../../member-statefulset';
import { parseStorageQuantity } from '../../render/units';
import { CliError, EXIT_NOT_FOUND } from '../exit';
import { KubeClient, apiErrorToCli } from '../kube/client';

/** One member of the cluster. */
export interface MemberStatus {
  readonly name: string;
  /** leader, sync standby, replica, standby leader, or `-` when Patroni has not reported. */
  readonly role: string;
  /** Patroni's state of PostgreSQL (running, streaming, starting, stopped, ...). */
  readonly state: string;
  readonly ready: boolean;
  readonly node?: string;
  readonly podIP?: string;
  readonly timeline?: number;
  /** Bytes of WAL the member has not replayed that the leader has written (leader: 0). */
  readonly lagBytes?: number;
  readonly pendingRestart: boolean;
  /**
   * Whether the pod runs its StatefulSet's current template (its update revision); false: the
   * config Job has yet to replace it. Undefined when the StatefulSet could not be read.
   */
  readonly upToDate?: boolean;
  /** The member's volume claim (`pgdata-<pod>`); undefined when the claims could not be read. */
  readonly volume?: VolumeStatus;
}

/** A member's volume claim: what it has and what it asks for. */
export interface VolumeStatus {
  readonly claim: string;
  /** The size the volume has (the claim's status), as the API server writes it. */
  readonly capacity?: string;
  /** The size the claim requests. */
  readonly requested?: string;
  /** The claim requests more than it has: an expansion (storage.expandedSize) is under way. */
  readonly growing: boolean;
}

/** Where a Service sends connections. */
export interface ServiceStatus {
  readonly name: string;
  /** Ready endpoints, by pod name (address when no pod is named). */
  readonly endpoints: readonly string[];
}

/** The last runs of one backup schedule. */
export interface BackupStatus {
  readonly cronJob: string;
  readonly schedule: string;
  readonly lastSuccessfulTime?: string;
  readonly lastScheduleTime?: string;
  readonly active: number;
}

/** A certificate of the cluster, as cert-manager reports it. */
export interface CertificateStatus {
  readonly name: string;
  readonly ready: boolean;
  readonly notAfter?: string;
  readonly renewalTime?: string;
}

/** Everything `status` prints. */
export interface ClusterStatus {
  readonly cluster: string;
  readonly namespace: string;
  readonly leader?: string;
  readonly members: readonly MemberStatus[];
  readonly services: readonly ServiceStatus[];
  readonly backups: readonly BackupStatus[];
  readonly certificates: readonly CertificateStatus[];
}

/** The objects `status` reads, as the API returns them. */
export interface ClusterObjects {
  readonly pods: readonly any[];
  readonly leaderConfigMap?: any;
  readonly syncConfigMap?: any;
  readonly endpointSlices: readonly any[];
  readonly cronJobs: readonly any[];
  readonly certificates: readonly any[];
  /** The member StatefulSets (empty when they could not be read). */
  readonly statefulSets?: readonly any[];
  /** The cluster's PersistentVolumeClaims (undefined when they could not be read). */
  readonly claims?: readonly any[];
}

function memberData(pod: any): any {
  try {
    return JSON.parse(pod.metadata?.annotations?.status ?? '{}');
  } catch {
    return {};
  }
}

/** The pod's addresses: podIPs (one per family), else podIP. */
function podAddresses(pod: any): string[] {
  const ips: string[] = (pod.status?.podIPs ?? []).map((a: any) => a.ip).filter(Boolean);
  return ips.length > 0 ? ips : pod.status?.podIP ? [pod.status.podIP] : [];
}

function isReady(pod: any): boolean {
  return !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

/** The status of a cluster from its objects (pure: what `status` computes, tested as a function). */
export function clusterStatus(cluster: string, namespace: string, objects: ClusterObjects): ClusterStatus {
  const leader: string | undefined = objects.leaderConfigMap?.metadata?.annotations?.leader || undefined;
  const sync = new Set<string>(String(objects.syncConfigMap?.metadata?.annotations?.sync_standby ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const pods = [...objects.pods].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const leaderData = memberData(pods.find((p) => p.metadata.name === leader) ?? {});
  const leaderLsn = typeof leaderData.xlog_location === 'number' ? leaderData.xlog_location : undefined;
  const revisions = new Map<string, string>((objects.statefulSets ?? [])
    .filter((x) => x.status?.updateRevision).map((x) => [x.metadata.name, x.status.updateRevision]));
  const claims = objects.claims === undefined ? undefined : new Map<string, any>(objects.claims.map((c) => [c.metadata?.name, c]));
  const volumeOf = (pod: string): VolumeStatus | undefined => {
    const c = claims?.get(`${MEMBER_VOLUME_CLAIM}-${pod}`);
    if (!c) return undefined;
    const capacity: string | undefined = c.status?.capacity?.storage;
    const requested: string | undefined = c.spec?.resources?.requests?.storage;
    const has = parseStorageQuantity(capacity);
    const wants = parseStorageQuantity(requested);
    return { claim: c.metadata.name, capacity, requested, growing: has !== undefined && wants !== undefined && wants > has };
  };
  const members = pods.map((pod): MemberStatus => {
    const d = memberData(pod);
    const owner = (pod.metadata.ownerReferences ?? []).find((o: any) => o.kind === 'StatefulSet')?.name;
    const updateRevision = owner ? revisions.get(owner) : undefined;
    const name = pod.metadata.name;
    const role = !d.role ? '-'
      : name === leader ? (d.role === 'standby_leader' ? 'standby leader' : 'leader')
        : sync.has(name) ? 'sync standby' : 'replica';
    const position = typeof d.replay_lsn === 'number' ? d.replay_lsn : d.xlog_location;
    const state = d.replication_state && d.state === 'running' ? d.replication_state : (d.state ?? (pod.status?.phase ?? 'unknown').toLowerCase());
    return {
      name,
      role,
      state,
      ready: isReady(pod),
      node: pod.spec?.nodeName,
      podIP: pod.status?.podIP,
      timeline: d.timeline,
      lagBytes: name === leader ? 0 : leaderLsn !== undefined && typeof position === 'number' ? Math.max(0, leaderLsn - position) : undefined,
      pendingRestart: d.pending_restart === true,
      upToDate: updateRevision === undefined ? undefined : pod.metadata.labels?.['controller-revision-hash'] === updateRevision,
      volume: volumeOf(name),
    };
  });
  // Every address of each pod: a dual-stack pod has one per family.
  const byIp = new Map(pods.flatMap((p) => podAddresses(p).map((ip): [string, string] => [ip, p.metadata.name])));
  // A set per Service: a dual-stack Service has a slice per family, each listing the same pods.
  const services = new Map<string, Set<string>>();
  for (const slice of objects.endpointSlices) {
    const svc = slice.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const set = services.get(svc) ?? new Set<string>();
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      set.add(ep.targetRef?.kind === 'Pod' ? ep.targetRef.name : byIp.get(ep.addresses?.[0]) ?? ep.addresses?.[0]);
    }
    services.set(svc, set);
  }
  return {
    cluster,
    namespace,
    leader,
    members,
    services: [...services.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, endpoints]) => ({ name, endpoints: [...endpoints].sort() })),
    backups: objects.cronJobs.filter((c) => c.metadata?.labels?.['app.kubernetes.io/component'] === 'backup')
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
      .map((c) => ({
        cronJob: c.metadata.name,
        schedule: c.spec?.schedule,
        lastSuccessfulTime: c.status?.lastSuccessfulTime,
        lastScheduleTime: c.status?.lastScheduleTime,
        active: (c.status?.active ?? []).length,
      })),
    certificates: [...objects.certificates].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map((c) => ({
      name: c.metadata.name,
      ready: (c.status?.conditions ?? []).some((x: any) => x.type === 'Ready' && x.status === 'True'),
      notAfter: c.status?.notAfter,
      renewalTime: c.status?.renewalTime,
    })),
  };
}

/** Reads the cluster's objects through the API; a cluster with no member pod and no leader lock is not found. */
export async function fetchClusterObjects(client: KubeClient, cluster: string, namespace: string): Promise<ClusterObjects> {
  const ns = encodeURIComponent(namespace);
  const sel = encodeURIComponent(`${CLUSTER_LABEL}=${cluster}`);
  const list = async (path: string, what: string, optional = false): Promise<any[]> => {
    try {
      return (await client.request('GET', path)).items ?? [];
    } catch (err) {
      // cert-manager's CRDs may not be installed: no certificates to report then.
      if (optional && (err as any).status === 404) return [];
      return apiErrorToCli(err, `list ${what} in namespace ${namespace}`);
    }
  };
  const get = async (path: string, what: string) => {
    try {
      return await client.getOptional(path);
    } catch (err) {
      return apiErrorToCli(err, `get ${what} in namespace ${namespace}`);
    }
  };
  // All at once, but the error reported is the first in this order, not the first to arrive.
  const settled = await Promise.allSettled([
    list(`/api/v1/namespaces/${ns}/pods?labelSelector=${sel},${encodeURIComponent('app.kubernetes.io/name=postgresql')}`, 'pods'),
    get(`/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(`${cluster}-leader`)}`, 'configmaps'),
    get(`/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(`${cluster}-sync`)}`, 'configmaps'),
    list(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, 'endpointslices'),
    list(`/apis/batch/v1/namespaces/${ns}/cronjobs?labelSelector=${sel}`, 'cronjobs'),
    list(`/apis/cert-manager.io/v1/namespaces/${ns}/certificates?labelSelector=${sel}`, 'certificates', true),
    // Which members await a rollout; a user who may not read StatefulSets still gets the rest.
    client.request('GET', `/apis/apps/v1/namespaces/${ns}/statefulsets?labelSelector=${sel}`).then((r: any) => r.items ?? [], (err: any) => {
      if (err?.status === 403 || err?.status === 404) return [];
      return apiErrorToCli(err, `list statefulsets in namespace ${namespace}`);
    }),
    // Each member's volume; optional as the StatefulSets are.
    client.request('GET', `/api/v1/namespaces/${ns}/persistentvolumeclaims?labelSelector=${sel}`).then((r: any) => r.items ?? [], (err: any) => {
      if (err?.status === 403 || err?.status === 404) return undefined;
      return apiErrorToCli(err, `list persistentvolumeclaims in namespace ${namespace}`);
    }),
  ]);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const [pods, leaderConfigMap, syncConfigMap, endpointSlices, cronJobs, certificates, statefulSets, claims] =
    settled.map((r) => (r as PromiseFulfilledResult<any>).value);
  if (pods.length === 0 && !leaderConfigMap) {
    throw new CliError(`no cluster ${cluster} in namespace ${namespace}: no member pods labelled ${CLUSTER_LABEL}=${cluster} and no ConfigMap ${cluster}-leader`, EXIT_NOT_FOUND);
  }
  // Only the Services of this cluster: those whose name starts with the cluster's name.
  const own = (endpointSlices as any[]).filter((s: any) => String(s.metadata?.labels?.['kubernetes.io/service-name'] ?? '').startsWith(`${cluster}-`));
  return { pods, leaderConfigMap, syncConfigMap, endpointSlices: own, cronJobs, certificates, statefulSets, claims };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

function bytes(n: number | undefined): string {
  if (n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** The status as tables for people. */
export function formatStatus(s: ClusterStatus): string {
  const out: string[] = [];
  out.push(`Cluster ${s.cluster} in namespace ${s.namespace}: leader ${s.leader ?? 'NONE'}\n\n`);
  out.push(table([
    ['MEMBER', 'ROLE', 'STATE', 'READY', 'TL', 'LAG', 'PENDING RESTART', 'NODE', 'UP TO DATE', 'VOLUME'],
    ...s.members.map((m) => [m.name, m.role, m.state, m.ready ? 'yes' : 'no', m.timeline === undefined ? '-' : String(m.timeline),
      bytes(m.lagBytes), m.pendingRestart ? 'yes' : 'no', m.node ?? '-', m.upToDate === undefined ? '-' : m.upToDate ? 'yes' : 'no (awaits the config Job)',
      !m.volume ? '-' : m.volume.growing ? `${m.volume.capacity} (growing to ${m.volume.requested})` : m.volume.capacity ?? m.volume.requested ?? '-']),
  ]));
  if (s.services.length > 0) {
    out.push('\n');
    out.push(table([['SERVICE', 'ENDPOINTS'], ...s.services.map((v) => [v.name, v.endpoints.length > 0 ? v.endpoints.join(',') : '(none)'])]));
  }
  if (s.backups.length > 0) {
    out.push('\n');
    out.push(table([['BACKUP SCHEDULE', 'CRON', 'LAST SUCCESS', 'LAST SCHEDULED', 'RUNNING'],
      ...s.backups.map((b) => [b.cronJob, b.schedule, b.lastSuccessfulTime ?? 'never', b.lastScheduleTime ?? 'never', String(b.active)])]));
  }
  if (s.certificates.length > 0) {
    out.push('\n');
    out.push(table([['CERTIFICATE', 'READY', 'EXPIRES', 'RENEWS'],
      ...s.certificates.map((c) => [c.name, c.ready ? 'yes' : 'no', c.notAfter ?? '-', c.renewalTime ?? '-'])]));
  }
  return out.join('');
}
