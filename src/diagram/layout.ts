/**
 * A deterministic layout of the topology: columns from the clients' side (left) to storage
 * (right) — pooler Services, poolers, Services, StatefulSets, CronJobs and Jobs, backup
 * repositories — each column sorted by role then name, boxes sized by their text.
 * Every edge goes from a column to one further right.
 */
import { Edge, RepositoryNode, ServiceNode, Topology, WorkloadNode } from './topology';
import { formatBytes, formatCpu } from '../validate/quantity';

/** Fill colours by node style: the legend, the SVG and the screenshot test use the same table. */
export const FILLS: Readonly<Record<string, string>> = {
  'primary': '#cfe3ff',
  'replica': '#d4f2d0',
  'delayed': '#fff0b8',
  'repo-host': '#e6dcff',
  'pooler': '#cdf0ef',
  'workload': '#e2e2e2',
  'backup': '#f6dcf0',
  'job': '#f0f0f0',
  'service-read-write': '#ffd9cc',
  'service-read-only': '#ffeccc',
  'service-members': '#f2e6d9',
  'service-pooler': '#e0f4ff',
  'service-service': '#f5f5dc',
  'repository': '#fce4ec',
};

/** What each style means, for the legend. */
export const STYLE_LABELS: Readonly<Record<string, string>> = {
  'primary': 'preferred primary (StatefulSet)',
  'replica': 'streaming replicas (StatefulSet)',
  'delayed': 'delayed replicas (StatefulSet)',
  'repo-host': 'backup repository host (StatefulSet)',
  'pooler': 'connection pooler (Deployment)',
  'workload': 'other workload',
  'backup': 'backup (CronJob)',
  'job': 'Job or CronJob',
  'service-read-write': 'read-write Service (selects the leader)',
  'service-read-only': 'read-only Service (selects replicas)',
  'service-members': 'members Service (every member pod)',
  'service-pooler': 'pooler Service',
  'service-service': 'other Service',
  'repository': 'pgBackRest repository',
};

/** One line of text in a box. */
export interface BoxLine {
  readonly text: string;
  /** `sidecar`, `init`, `total`, `volume`, `schedule`, `plain`: styles the line. */
  readonly kind: string;
}

/** A positioned node. */
export interface Box {
  readonly id: string;
  readonly kind: string;
  readonly style: string;
  readonly title: string;
  readonly subtitle: string;
  readonly lines: readonly BoxLine[];
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A positioned edge: a cubic curve from the source's right side to the target's left side. */
export interface EdgePath extends Edge {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

/** The laid-out diagram. */
export interface Layout {
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly boxes: readonly Box[];
  readonly edges: readonly EdgePath[];
  /** The styles used, in legend order. */
  readonly styles: readonly string[];
}

export const MARGIN = 24;
export const TITLE_HEIGHT = 36;
export const HEADER = 38;
export const LINE = 15;
export const CHAR_WIDTH = 6.7;
const COLUMN_GAP = 90;
const ROW_GAP = 18;
const LEGEND_ROW = 20;

const ROLE_ORDER = ['primary', 'replica', 'delayed', 'repo-host', 'workload', 'pooler', 'backup', 'job'];
const SERVICE_ORDER = ['read-write', 'read-only', 'members', 'pooler', 'service'];
const ROLE_TEXT: Record<string, string> = {
  'primary': 'preferred primary',
  'replica': 'replicas',
  'delayed': 'delayed replicas',
  'repo-host': 'repository host',
  'pooler': 'pooler',
  'backup': 'backup',
  'job': 'job',
  'workload': 'workload',
};

/** Orders workloads by role (members first, then poolers, backups, jobs), then by name. */
export function byRole(a: WorkloadNode, b: WorkloadNode): number {
  return rank(ROLE_ORDER, a.role) - rank(ROLE_ORDER, b.role) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Shortens a line to fit a box, with an ellipsis. */
export function fit(text: string, width: number): string {
  const max = Math.floor((width - 20) / CHAR_WIDTH);
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

function cpu(n: number | undefined): string {
  return n === undefined ? '-' : formatCpu(n);
}

function mem(n: number | undefined): string {
  return n === undefined ? '-' : formatBytes(n);
}

function workloadLines(w: WorkloadNode): BoxLine[] {
  const lines: BoxLine[] = [];
  if (w.schedule !== undefined) lines.push({ text: `schedule ${w.schedule}`, kind: 'schedule' });
  for (const c of w.containers) {
    const mark = c.init ? 'init ' : c.sidecar ? '+ ' : '';
    lines.push({
      text: `${mark}${c.name}  cpu ${cpu(c.cpuRequest)}/${cpu(c.cpuLimit)}  mem ${mem(c.memoryRequest)}/${mem(c.memoryLimit)}`,
      kind: c.init ? 'init' : c.sidecar ? 'sidecar' : 'plain',
    });
  }
  const t = w.totals;
  lines.push({ text: `pod  cpu ${cpu(t.cpuRequest)}/${cpu(t.cpuLimit)}  mem ${mem(t.memoryRequest)}/${mem(t.memoryLimit)}`, kind: 'total' });
  for (const v of w.volumes.filter((x) => x.size !== undefined)) {
    const cls = v.storageClass ? ` (${v.storageClass})` : '';
    lines.push({ text: `${v.type === 'claim' ? 'volume' : v.type} ${v.name} ${mem(v.size)}${cls}`, kind: 'volume' });
  }
  return lines;
}

function workloadSubtitle(w: WorkloadNode): string {
  const count = w.kind === 'StatefulSet' || w.kind === 'Deployment' ? ` ×${w.replicas}` : '';
  const backup = w.repository ? ` ${w.backupType ?? ''} → ${w.repository}` : '';
  return `${w.kind} · ${ROLE_TEXT[w.role]}${count}${backup}`;
}

function serviceSubtitle(s: ServiceNode): string {
  return `Service · ${s.role}${s.headless ? ' · headless' : ''}`;
}

interface Pending {
  readonly id: string;
  readonly kind: string;
  readonly style: string;
  readonly title: string;
  readonly subtitle: string;
  readonly lines: readonly BoxLine[];
  readonly width: number;
}

function rank<T>(order: readonly T[], v: T): number {
  const i = order.indexOf(v);
  return i < 0 ? order.length : i;
}

/** Lays the topology out. */
export function layoutTopology(topology: Topology): Layout {
  const workloadBox = (w: WorkloadNode, width: number): Pending => ({
    id: w.id, kind: w.kind, style: w.role, title: w.name, subtitle: workloadSubtitle(w), lines: workloadLines(w), width,
  });
  const serviceBox = (s: ServiceNode): Pending => ({
    id: s.id,
    kind: 'Service',
    style: `service-${s.role}`,
    title: s.name,
    subtitle: serviceSubtitle(s),
    lines: s.ports.map((p) => ({ text: `port ${p}`, kind: 'plain' })),
    width: 240,
  });
  const repoBox = (r: RepositoryNode): Pending => ({
    id: r.id,
    kind: 'Repository',
    style: 'repository',
    title: r.name,
    subtitle: `pgBackRest repository · ${r.type}`,
    lines: [{ text: r.location, kind: 'plain' }, ...(r.options['retention-full'] ? [{ text: `retention-full ${r.options['retention-full']}`, kind: 'plain' }] : [])],
    width: 250,
  });
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const sortWorkloads = (ws: WorkloadNode[]) => ws.sort(byRole);
  const sortServices = (ss: ServiceNode[]) => ss.sort((a, b) => rank(SERVICE_ORDER, a.role) - rank(SERVICE_ORDER, b.role) || byName(a, b));

  const ws = [...topology.workloads];
  const columns: Pending[][] = [
    sortServices(topology.services.filter((s) => s.role === 'pooler')).map(serviceBox),
    sortWorkloads(ws.filter((w) => w.role === 'pooler')).map((w) => workloadBox(w, 330)),
    sortServices(topology.services.filter((s) => s.role !== 'pooler')).map(serviceBox),
    sortWorkloads(ws.filter((w) => w.kind !== 'CronJob' && w.kind !== 'Job' && w.role !== 'pooler')).map((w) => workloadBox(w, 380)),
    sortWorkloads(ws.filter((w) => w.kind === 'CronJob' || w.kind === 'Job')).map((w) => workloadBox(w, 380)),
    [...topology.repositories].map(repoBox),
  ].filter((c) => c.length > 0);

  const boxes: Box[] = [];
  let x = MARGIN;
  let bottom = MARGIN + TITLE_HEIGHT;
  for (const column of columns) {
    const width = Math.max(...column.map((p) => p.width));
    let y = MARGIN + TITLE_HEIGHT;
    for (const p of column) {
      const height = HEADER + p.lines.length * LINE + 8;
      const lines = p.lines.map((l) => ({ ...l, text: fit(l.text, width) }));
      boxes.push({ ...p, lines, title: fit(p.title, width), subtitle: fit(p.subtitle, width), x, y, width, height });
      y += height + ROW_GAP;
    }
    bottom = Math.max(bottom, y);
    x += width + COLUMN_GAP;
  }
  const width = Math.max(x - COLUMN_GAP + MARGIN, 480);

  const byId = new Map(boxes.map((b) => [b.id, b]));
  const edges: EdgePath[] = [];
  for (const e of topology.edges) {
    const a = byId.get(e.from);
    const b = byId.get(e.to);
    if (!a || !b) continue;
    edges.push({ ...e, x1: a.x + a.width, y1: a.y + a.height / 2, x2: b.x, y2: b.y + b.height / 2 });
  }

  const used = new Set(boxes.map((b) => b.style));
  const styles = Object.keys(FILLS).filter((s) => used.has(s));
  const legendRows = Math.ceil(styles.length / 3);
  const height = bottom + 10 + legendRows * LEGEND_ROW + MARGIN;
  return { title: diagramTitle(topology), width: Math.round(width), height: Math.round(height), boxes, edges, styles };
}

/**
 * The diagram's title: each cluster with its own namespace (`PostgreSQL cluster orders-db
 * (namespace orders)`, `2 PostgreSQL clusters: db, orders-db (namespace orders)`).
 */
export function diagramTitle(topology: Pick<Topology, 'clusters' | 'namespaces' | 'clusterNamespaces'>): string {
  const inNamespaces = (ns: readonly string[]) => (ns.length === 0 ? '' : ` (namespace${ns.length > 1 ? 's' : ''} ${ns.join(', ')})`);
  const { clusters } = topology;
  if (clusters.length === 0) return `PostgreSQL objects${inNamespaces(topology.namespaces)}`;
  const named = clusters.map((c) => `${c}${inNamespaces(topology.clusterNamespaces[c] ?? [])}`);
  return clusters.length === 1 ? `PostgreSQL cluster ${named[0]}` : `${clusters.length} PostgreSQL clusters: ${named.join(', ')}`;
}

/** The legend's position: below the lowest box. */
export function legendTop(layout: Layout): number {
  const rows = Math.ceil(layout.styles.length / 3);
  return layout.height - MARGIN - rows * LEGEND_ROW;
}

export { LEGEND_ROW };
