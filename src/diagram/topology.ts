/**
 * The cluster's topology, read from synthesized objects: members and their roles, Services and
 * the pods they select, poolers, backup CronJobs and repositories, containers and resources.
 * Generic where it can be (any StatefulSet, Deployment, CronJob or Job), so objects added by
 * later features appear without changes here. Everything is sorted: same input, same model.
 */
import { parseRepositories, BackupRepository } from './pgbackrest';
import { Manifest, PodTemplate, podTemplates } from '../validate/manifest';
import { quantity, isQuantity } from '../validate/quantity';
import { selectedTemplates, staticSelector } from '../validate/selectors';

const NODE_SET_LABEL = 'postgres.cdk8s.io/node-set';
const CLUSTER_LABEL = 'postgres.cdk8s.io/cluster';
const ROLE_LABEL = 'postgres.cdk8s.io/role';
const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** A backup CronJob's name ends with its repository and type: `<cluster>-repo1-full`, `<cluster>-backup-repo2-incr`. */
const BACKUP_CRONJOB = /-(repo[0-9]+)-(full|diff|incr)$/;

/** What a workload is in the cluster. */
export type WorkloadRole = 'primary' | 'replica' | 'delayed' | 'repo-host' | 'pooler' | 'backup' | 'job' | 'workload';

/** What a Service is for. */
export type ServiceRole = 'read-write' | 'read-only' | 'members' | 'pooler' | 'service';

/** A container's image and resources. */
export interface ContainerInfo {
  readonly name: string;
  readonly image: string;
  readonly init: boolean;
  /** Not the pod's first container: a sidecar (heartbeat, metrics, yours). */
  readonly sidecar: boolean;
  readonly cpuRequest?: number;
  readonly cpuLimit?: number;
  readonly memoryRequest?: number;
  readonly memoryLimit?: number;
}

/** A pod volume or claim template and its size. */
export interface VolumeInfo {
  readonly name: string;
  /** `claim` (a StatefulSet's persistent volume), `emptyDir`, `configMap`, `secret`, … */
  readonly type: string;
  /** Bytes: a claim's requested storage or an emptyDir's sizeLimit. */
  readonly size?: number;
  readonly storageClass?: string;
}

/**
 * Pod totals: what the scheduler reserves (init containers run one at a time, before the
 * others). Undefined where no container sets the value.
 */
export interface PodTotals {
  readonly cpuRequest?: number;
  readonly cpuLimit?: number;
  readonly memoryRequest?: number;
  readonly memoryLimit?: number;
}

/** A StatefulSet, Deployment, CronJob or Job. */
export interface WorkloadNode {
  /** Unique in the model: `StatefulSet/db-primary`. */
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly role: WorkloadRole;
  /** Pods (StatefulSets, Deployments); 1 for Jobs and CronJobs. */
  readonly replicas: number;
  /** CronJobs: the schedule. */
  readonly schedule?: string;
  /** Backup CronJobs: the repository (`repo1`) and the backup type (`full`, `diff`, `incr`). */
  readonly repository?: string;
  readonly backupType?: string;
  readonly containers: readonly ContainerInfo[];
  readonly volumes: readonly VolumeInfo[];
  readonly totals: PodTotals;
}

/** A Service. */
export interface ServiceNode {
  readonly id: string;
  readonly name: string;
  readonly role: ServiceRole;
  readonly headless: boolean;
  readonly ports: readonly string[];
  readonly selector: Readonly<Record<string, string>>;
}

/** A pgBackRest repository node. */
export interface RepositoryNode extends BackupRepository {
  readonly id: string;
}

/** An edge: a Service selects a workload's pods, a pooler connects to a Service, a backup writes to a repository. */
export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'selects' | 'connects' | 'backs-up-to';
  /** What the edge depends on at run time (`role=primary`: only the pod Patroni made leader). */
  readonly label?: string;
}

/** The whole picture. */
export interface Topology {
  /** The cluster names found (`postgres.cdk8s.io/cluster`), sorted. */
  readonly clusters: readonly string[];
  readonly namespaces: readonly string[];
  /** Each cluster's namespaces (of its labelled objects; none when they have none), by cluster name. */
  readonly clusterNamespaces: Readonly<Record<string, readonly string[]>>;
  readonly workloads: readonly WorkloadNode[];
  readonly services: readonly ServiceNode[];
  readonly repositories: readonly RepositoryNode[];
  readonly edges: readonly Edge[];
}

const byName = <T extends { readonly name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function num(q: unknown): number | undefined {
  return isQuantity(q) ? quantity(q) : undefined;
}

function containerInfo(c: any, init: boolean, index: number): ContainerInfo {
  const r = c.resources ?? {};
  return {
    name: String(c.name),
    image: String(c.image ?? ''),
    init,
    sidecar: !init && index > 0,
    cpuRequest: num(r.requests?.cpu),
    cpuLimit: num(r.limits?.cpu),
    memoryRequest: num(r.requests?.memory),
    memoryLimit: num(r.limits?.memory),
  };
}

function volumes(t: PodTemplate): VolumeInfo[] {
  const out: VolumeInfo[] = [];
  for (const v of t.owner.spec?.volumeClaimTemplates ?? []) {
    out.push({ name: String(v.metadata?.name), type: 'claim', size: num(v.spec?.resources?.requests?.storage), storageClass: v.spec?.storageClassName });
  }
  for (const v of t.spec.volumes ?? []) {
    const type = Object.keys(v).filter((k) => k !== 'name').sort()[0] ?? 'unknown';
    out.push({ name: String(v.name), type, size: type === 'emptyDir' ? num(v.emptyDir?.sizeLimit) : undefined });
  }
  return out;
}

function totals(containers: readonly ContainerInfo[]): PodTotals {
  const main = containers.filter((c) => !c.init);
  const inits = containers.filter((c) => c.init);
  const sum = (k: keyof ContainerInfo) => main.reduce((s, c) => s + ((c[k] as number | undefined) ?? 0), 0);
  const max = (k: keyof ContainerInfo) => inits.reduce((s, c) => Math.max(s, (c[k] as number | undefined) ?? 0), 0);
  // Kubernetes' effective pod request: max(sum of app containers, largest init container).
  // Rounded to millicores and bytes: summed floats (0.1 + 4) must print as the quantities they are.
  const eff = (k: keyof ContainerInfo) => {
    if (!containers.some((c) => c[k] !== undefined)) return undefined;
    return Math.round(Math.max(sum(k), max(k)) * 1000) / 1000;
  };
  return { cpuRequest: eff('cpuRequest'), cpuLimit: eff('cpuLimit'), memoryRequest: eff('memoryRequest'), memoryLimit: eff('memoryLimit') };
}

function workloadRole(m: Manifest, labels: Record<string, string>): WorkloadRole {
  const nodeSet = m.metadata.labels?.[NODE_SET_LABEL] ?? labels[NODE_SET_LABEL];
  const component = m.metadata.labels?.[COMPONENT_LABEL] ?? labels[COMPONENT_LABEL] ?? '';
  if (m.kind === 'StatefulSet' && (nodeSet === 'primary' || nodeSet === 'replica' || nodeSet === 'delayed')) return nodeSet;
  if (component === 'repo-host') return 'repo-host';
  if (component === 'backup' || (m.kind === 'CronJob' && BACKUP_CRONJOB.test(m.metadata.name))) return 'backup';
  if (m.kind === 'Deployment' && (component.endsWith('pooler') || component.includes('pooler') || labels['app.kubernetes.io/name'] === 'pgbouncer')) return 'pooler';
  if (m.kind === 'Job' || m.kind === 'CronJob') return 'job';
  return 'workload';
}

function workloadNode(t: PodTemplate): WorkloadNode {
  const m = t.owner;
  const labels = t.metadata.labels ?? {};
  const containers = [
    ...(t.spec.initContainers ?? []).map((c: any, i: number) => containerInfo(c, true, i)),
    ...(t.spec.containers ?? []).map((c: any, i: number) => containerInfo(c, false, i)),
  ];
  const role = workloadRole(m, labels);
  const backup = m.kind === 'CronJob' ? BACKUP_CRONJOB.exec(m.metadata.name) : null;
  return {
    id: `${m.kind}/${m.metadata.name}`,
    kind: m.kind,
    name: m.metadata.name,
    role,
    replicas: m.kind === 'StatefulSet' || m.kind === 'Deployment' ? (m.spec?.replicas ?? 1) : 1,
    schedule: m.kind === 'CronJob' ? m.spec?.schedule : undefined,
    repository: backup?.[1],
    backupType: backup?.[2],
    containers,
    volumes: volumes(t),
    totals: totals(containers),
  };
}

function serviceRole(svc: Manifest, selected: readonly WorkloadNode[]): ServiceRole {
  const role = svc.spec?.selector?.[ROLE_LABEL];
  if (role === 'primary' || role === 'master') return 'read-write';
  if (role === 'replica') return 'read-only';
  if (selected.length > 0 && selected.every((w) => w.role === 'pooler')) return 'pooler';
  if (selected.length > 0 && selected.every((w) => w.role === 'primary' || w.role === 'replica' || w.role === 'delayed')) return 'members';
  return 'service';
}

/** The Service names a workload's ConfigMaps point at (`host=orders-db-primary` in pgbouncer.ini). */
function connectedServices(t: PodTemplate, configMaps: ReadonlyMap<string, Manifest>, services: ReadonlySet<string>): string[] {
  const names = new Set<string>();
  for (const v of t.spec.volumes ?? []) {
    const cm = v.configMap ? configMaps.get(v.configMap.name) : undefined;
    for (const text of Object.values<string>(cm?.data ?? {})) {
      for (const m of String(text).matchAll(/\bhost\s*[=:]\s*([a-z0-9][a-z0-9.-]*)/g)) {
        const host = m[1].split('.')[0];
        if (services.has(host)) names.add(host);
      }
    }
  }
  return [...names].sort();
}

/** Builds the topology of a set of synthesized objects. */
export function extractTopology(manifests: readonly Manifest[]): Topology {
  const templates = podTemplates(manifests);
  const workloads = templates.map(workloadNode).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byId = new Map(workloads.map((w) => [w.id, w]));
  const edges: Edge[] = [];

  const serviceManifests = manifests.filter((m) => m.kind === 'Service').sort((a, b) => byName(a.metadata, b.metadata));
  const services: ServiceNode[] = [];
  const longRunning = templates.filter((t) => t.owner.kind !== 'Job' && t.owner.kind !== 'CronJob');
  for (const svc of serviceManifests) {
    const id = `Service/${svc.metadata.name}`;
    const selected = svc.spec?.selector ? selectedTemplates(svc, longRunning) : [];
    const nodes = selected.map((t) => byId.get(`${t.owner.kind}/${t.owner.metadata.name}`)!);
    const runtime = Object.entries(svc.spec?.selector ?? {}).filter(([k]) => !(k in staticSelector(svc.spec.selector)));
    for (const n of nodes) {
      const label = n.kind === 'StatefulSet' && runtime.length > 0 ? runtime.map(([k, v]) => `${k.split('/').pop()}=${v}`).join(',') : undefined;
      edges.push({ from: id, to: n.id, kind: 'selects', label });
    }
    services.push({
      id,
      name: svc.metadata.name,
      role: serviceRole(svc, nodes),
      headless: svc.spec?.clusterIP === 'None',
      ports: (svc.spec?.ports ?? []).map((p: any) => `${p.name ?? ''}${p.name ? ' ' : ''}${p.port}`),
      selector: svc.spec?.selector ?? {},
    });
  }

  const configMaps = new Map(manifests.filter((m) => m.kind === 'ConfigMap').map((m) => [m.metadata.name, m]));
  const serviceNames = new Set(services.map((s) => s.name));
  for (const t of templates.filter((x) => x.owner.kind === 'Deployment')) {
    for (const host of connectedServices(t, configMaps, serviceNames)) {
      edges.push({ from: `${t.owner.kind}/${t.owner.metadata.name}`, to: `Service/${host}`, kind: 'connects' });
    }
  }

  // pgbackrest.conf files: every ConfigMap entry named pgbackrest.conf or *.conf that sets repoN- options.
  const confs: string[] = [];
  for (const cm of [...configMaps.values()].sort((a, b) => byName(a.metadata, b.metadata))) {
    for (const key of Object.keys(cm.data ?? {}).sort()) {
      const text = cm.data[key];
      if (key.endsWith('.conf') && typeof text === 'string' && /^\s*repo[0-9]+-/m.test(text)) confs.push(text);
    }
  }
  const repositories: RepositoryNode[] = parseRepositories(...confs).map((r) => ({ ...r, id: `Repository/${r.name}` }));
  const seen = new Set(repositories.map((r) => r.name));
  for (const w of workloads) {
    if (w.repository === undefined) continue;
    if (!seen.has(w.repository)) {
      seen.add(w.repository);
      repositories.push({ id: `Repository/${w.repository}`, name: w.repository, type: 'unknown', location: '(no pgbackrest.conf found)', options: {} });
    }
    edges.push({ from: w.id, to: `Repository/${w.repository}`, kind: 'backs-up-to', label: w.backupType });
  }
  repositories.sort(byName);

  const edgeKey = (e: Edge) => `${e.from} ${e.to} ${e.kind}`;
  const sortedEdges = edges.sort((a, b) => (edgeKey(a) < edgeKey(b) ? -1 : edgeKey(a) > edgeKey(b) ? 1 : 0));
  const clusters = [...new Set(manifests.map((m) => m.metadata?.labels?.[CLUSTER_LABEL]).filter((c): c is string => !!c))].sort();
  const namespaces = [...new Set(manifests.map((m) => m.metadata?.namespace).filter((n): n is string => !!n))].sort();
  const clusterNamespaces: Record<string, string[]> = {};
  for (const c of clusters) {
    const mine = manifests.filter((m) => m.metadata?.labels?.[CLUSTER_LABEL] === c).map((m) => m.metadata?.namespace);
    clusterNamespaces[c] = [...new Set(mine.filter((n): n is string => !!n))].sort();
  }
  return { clusters, namespaces, clusterNamespaces, workloads, services, repositories, edges: sortedEdges };
}
