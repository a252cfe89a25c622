/**
 * The README's table of each example's member pod resources is checked against the synthesized
 * examples, so it cannot rot: a change to any container's resources (the postgres container, the
 * heartbeat and exporter sidecars, the init container) must update the table.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { Manifest, exampleManifests, exampleNames, ofKind } from './helpers/manifests';

const README = join(__dirname, '..', 'README.md');
const HEADING = '### Pod resources of the examples';
const COLUMNS = ['example', 'StatefulSet', 'containers', 'CPU requests', 'CPU limits', 'memory requests', 'memory limits'];

/** One row of the table. */
interface Row {
  readonly example: string;
  readonly statefulSet: string;
  readonly containers: string;
  readonly cpuRequests: string;
  readonly cpuLimits: string;
  readonly memoryRequests: string;
  readonly memoryLimits: string;
}

/** Millicores of a CPU quantity (`500m`, `2`, `1.5`). */
function millicores(q: string | number): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(String(q));
  if (!m) throw new Error(`unparseable CPU quantity ${q}`);
  const value = Number(m[1]) * (m[2] === 'm' ? 1 : 1000);
  if (!Number.isInteger(value)) throw new Error(`CPU quantity ${q} is not a whole number of millicores`);
  return value;
}

/** Bytes of a memory quantity. */
function bytes(q: string | number): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(String(q));
  if (!m) throw new Error(`unparseable memory quantity ${q}`);
  const factors: Record<string, number> = { '': 1, 'k': 1e3, 'Ki': 1024, 'M': 1e6, 'Mi': 1024 ** 2, 'G': 1e9, 'Gi': 1024 ** 3, 'T': 1e12, 'Ti': 1024 ** 4 };
  return Number(m[1]) * factors[m[2] ?? ''];
}

function formatCpu(millis: number): string {
  return `${millis}m`;
}

function formatMemory(b: number): string {
  const mi = b / 1024 ** 2;
  if (!Number.isInteger(mi)) throw new Error(`${b} bytes is not a whole number of MiB`);
  return `${mi}Mi`;
}

/** The resources Kubernetes accounts a pod for: the sum over its containers, or its largest init container when that is more (init containers run before, one at a time). */
function podResources(spec: any): { cpuRequests: number; cpuLimits: number; memoryRequests: number; memoryLimits: number } {
  const sum = (kind: 'requests' | 'limits', res: 'cpu' | 'memory') => (spec.containers as any[])
    .map((c) => (res === 'cpu' ? millicores : bytes)(c.resources[kind][res]))
    .reduce((a, b) => a + b, 0);
  const maxInit = (kind: 'requests' | 'limits', res: 'cpu' | 'memory') => ((spec.initContainers ?? []) as any[])
    .map((c) => (res === 'cpu' ? millicores : bytes)(c.resources[kind][res]))
    .reduce((a, b) => Math.max(a, b), 0);
  const effective = (kind: 'requests' | 'limits', res: 'cpu' | 'memory') => Math.max(sum(kind, res), maxInit(kind, res));
  return {
    cpuRequests: effective('requests', 'cpu'),
    cpuLimits: effective('limits', 'cpu'),
    memoryRequests: effective('requests', 'memory'),
    memoryLimits: effective('limits', 'memory'),
  };
}

/** `postgres, heartbeat, metrics` with `; init: wait-for-leader` when the pod has init containers. */
function containerList(spec: any): string {
  const names = (spec.containers as any[]).map((c) => c.name).join(', ');
  const init = ((spec.initContainers ?? []) as any[]).map((c) => c.name);
  return init.length > 0 ? `${names}; init: ${init.join(', ')}` : names;
}

/** The rows the examples synthesize, in example then StatefulSet order. */
function computedRows(): Row[] {
  const rows: Row[] = [];
  for (const example of exampleNames()) {
    const sets: Manifest[] = ofKind(exampleManifests(example), 'StatefulSet');
    for (const sts of [...sets].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
      const spec = sts.spec.template.spec;
      const r = podResources(spec);
      rows.push({
        example,
        statefulSet: sts.metadata.name,
        containers: containerList(spec),
        cpuRequests: formatCpu(r.cpuRequests),
        cpuLimits: formatCpu(r.cpuLimits),
        memoryRequests: formatMemory(r.memoryRequests),
        memoryLimits: formatMemory(r.memoryLimits),
      });
    }
  }
  return rows;
}

/** The table under the heading in README.md. */
function readmeRows(): Row[] {
  const lines = readFileSync(README, 'utf8').split('\n');
  const start = lines.indexOf(HEADING);
  if (start < 0) throw new Error(`README.md has no line "${HEADING}"`);
  if (lines.indexOf(HEADING, start + 1) >= 0) throw new Error(`README.md has "${HEADING}" twice`);
  let i = start + 1;
  while (i < lines.length && !lines[i].startsWith('|')) {
    if (lines[i].startsWith('#')) throw new Error(`no table under "${HEADING}"`);
    i++;
  }
  const table: string[] = [];
  while (i < lines.length && lines[i].startsWith('|')) table.push(lines[i++]);
  const cells = (line: string) => {
    if (!line.trim().endsWith('|')) throw new Error(`table line does not end with "|": ${line}`);
    return line.trim().slice(1, -1).split('|').map((c) => c.trim().replace(/^`(.*)`$/, '$1'));
  };
  if (table.length < 2) throw new Error(`the table under "${HEADING}" has no rows`);
  const header = cells(table[0]);
  if (JSON.stringify(header) !== JSON.stringify(COLUMNS)) throw new Error(`table columns are ${JSON.stringify(header)}, expected ${JSON.stringify(COLUMNS)}`);
  if (!cells(table[1]).every((c) => /^:?-{3,}:?$/.test(c))) throw new Error(`the second table line is not a separator: ${table[1]}`);
  return table.slice(2).map((line) => {
    const c = cells(line);
    if (c.length !== COLUMNS.length) throw new Error(`row has ${c.length} cells, expected ${COLUMNS.length}: ${line}`);
    return { example: c[0], statefulSet: c[1], containers: c[2], cpuRequests: c[3], cpuLimits: c[4], memoryRequests: c[5], memoryLimits: c[6] };
  });
}

describe('pod resources of the examples (README.md)', () => {
  const computed = computedRows();

  test('the quantity parsers are right', () => {
    expect(millicores('500m')).toBe(500);
    expect(millicores('2')).toBe(2000);
    expect(millicores(1)).toBe(1000);
    expect(millicores('1.5')).toBe(1500);
    expect(bytes('64Mi')).toBe(64 * 1024 ** 2);
    expect(bytes('4Gi')).toBe(4 * 1024 ** 3);
    expect(() => millicores('0.0005')).toThrow();
    expect(() => bytes('lots')).toThrow();
  });

  test('the accounting follows Kubernetes: containers add up, an init container counts only when larger', () => {
    const ctr = (cpu: string, memory: string) => ({ resources: { requests: { cpu, memory }, limits: { cpu, memory } } });
    expect(podResources({ containers: [ctr('500m', '1Gi'), ctr('50m', '64Mi')] })).toEqual({
      cpuRequests: 550, cpuLimits: 550, memoryRequests: 1088 * 1024 ** 2, memoryLimits: 1088 * 1024 ** 2,
    });
    expect(podResources({ containers: [ctr('100m', '64Mi')], initContainers: [ctr('50m', '32Mi')] }).cpuRequests).toBe(100);
    expect(podResources({ containers: [ctr('100m', '64Mi')], initContainers: [ctr('1', '2Gi')] })).toEqual({
      cpuRequests: 1000, cpuLimits: 1000, memoryRequests: 2 * 1024 ** 3, memoryLimits: 2 * 1024 ** 3,
    });
  });

  test('every example has member StatefulSets', () => {
    for (const example of exampleNames()) expect(computed.filter((r) => r.example === example).length).toBeGreaterThan(0);
  });

  test('README.md lists one row per StatefulSet of each example, with the synthesized totals', () => {
    const documented = readmeRows();
    const key = (r: Row) => `${r.example}/${r.statefulSet}`;
    expect(documented.map(key)).toEqual(computed.map(key));
    expect(documented).toEqual(computed);
  });

  test('the totals include the heartbeat and metrics sidecars (default example)', () => {
    const basic = computed.filter((r) => r.example === 'basic');
    const primary = basic.find((r) => r.statefulSet === 'db-primary')!;
    // Resources.SMALL (500m, 1Gi) + heartbeat (100m, 64Mi) + exporter (100m, 128Mi): Guaranteed QoS
    expect(primary).toMatchObject({ cpuRequests: '700m', cpuLimits: '700m', memoryRequests: '1216Mi', memoryLimits: '1216Mi' });
  });
});
