/**
 * The topology diagram (src/diagram): what the model reads from synthesized objects, the
 * backup repositories from a pgbackrest.conf, and deterministic SVG and HTML.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { Manifest, exampleManifests, synthCluster } from './helpers/manifests';
import { renderDiagrams } from '../src/diagram';
import { layoutTopology } from '../src/diagram/layout';
import { parseRepositories } from '../src/diagram/pgbackrest';
import { nodeElementId, xml } from '../src/diagram/svg';
import { extractTopology } from '../src/diagram/topology';
import { parseManifests } from '../src/validate/manifest';

const backupObjects = (): Manifest[] => parseManifests(readFileSync(join(__dirname, 'fixtures', 'backup-objects.yaml'), 'utf8'));

/** Backup objects (CronJobs, the repository host, pgbackrest.conf): stripped where a test is about the rest. */
function isBackupObject(m: Manifest): boolean {
  const component = m.metadata.labels?.['app.kubernetes.io/component'];
  const pgbackrestConf = Object.values<unknown>(m.data ?? {}).some((v) => typeof v === 'string' && /^\s*repo[0-9]+-/m.test(v));
  return m.kind === 'CronJob' || component === 'backup' || component === 'repo-host' || pgbackrestConf;
}

// These tests read the production example without backup objects, so that backups (the fixture
// below tests them) can be added to the example without changing what these check.
describe('topology of the production example', () => {
  const topology = extractTopology(exampleManifests('production').filter((m) => !isBackupObject(m)));
  const workload = (name: string) => topology.workloads.find((w) => w.name === name)!;
  const MEMBER_ROLES = ['primary', 'replica', 'delayed'];

  test('members, poolers and jobs with their roles', () => {
    expect(topology.clusters).toEqual(['orders-db']);
    expect(topology.namespaces).toEqual(['orders']);
    expect(topology.workloads.filter((w) => MEMBER_ROLES.includes(w.role)).map((w) => [w.kind, w.name, w.role, w.replicas])).toEqual([
      ['StatefulSet', 'orders-db-delayed', 'delayed', 1], ['StatefulSet', 'orders-db-primary', 'primary', 1], ['StatefulSet', 'orders-db-replica', 'replica', 2],
    ]);
    expect(topology.workloads.filter((w) => w.kind === 'Deployment').map((w) => [w.name, w.role, w.replicas])).toEqual([
      ['orders-db-pooler', 'pooler', 2], ['orders-db-pooler-ro', 'pooler', 2],
    ]);
    expect(topology.workloads.filter((w) => w.kind === 'Job').every((w) => w.role === 'job')).toBe(true);
  });

  test('Services by role, and which pods each selects (the role label is a run-time condition)', () => {
    expect(topology.services.map((s) => [s.name, s.role])).toEqual(expect.arrayContaining([
      ['orders-db-pods', 'members'], ['orders-db-pooler', 'pooler'], ['orders-db-pooler-ro', 'pooler'],
      ['orders-db-primary', 'read-write'], ['orders-db-replicas', 'read-only'],
    ]));
    const selected = (svc: string) => topology.edges.filter((e) => e.from === `Service/${svc}` && e.kind === 'selects').map((e) => [e.to, e.label]);
    expect(selected('orders-db-primary')).toEqual([
      ['StatefulSet/orders-db-delayed', 'role=primary'], ['StatefulSet/orders-db-primary', 'role=primary'], ['StatefulSet/orders-db-replica', 'role=primary'],
    ]);
    expect(selected('orders-db-replicas')).toEqual([['StatefulSet/orders-db-primary', 'role=replica'], ['StatefulSet/orders-db-replica', 'role=replica']]);
    expect(selected('orders-db-pods').map(([to]) => to)).toEqual(['StatefulSet/orders-db-delayed', 'StatefulSet/orders-db-primary', 'StatefulSet/orders-db-replica']);
    expect(selected('orders-db-pooler-ro')).toEqual([['Deployment/orders-db-pooler-ro', undefined]]);
  });

  test('poolers connect to the Service their pgbouncer.ini names', () => {
    expect(topology.edges.filter((e) => e.kind === 'connects').map((e) => [e.from, e.to])).toEqual([
      ['Deployment/orders-db-pooler', 'Service/orders-db-primary'], ['Deployment/orders-db-pooler-ro', 'Service/orders-db-replicas'],
    ]);
  });

  test('containers (sidecars marked), resources per container and pod totals, volume sizes', () => {
    const primary = workload('orders-db-primary');
    const container = (name: string) => primary.containers.find((c) => c.name === name)!;
    expect(primary.containers[0]).toMatchObject({ name: 'postgres', sidecar: false, init: false, cpuRequest: 2, cpuLimit: 4, memoryRequest: 4 * 1024 ** 3, memoryLimit: 4 * 1024 ** 3 });
    expect([container('heartbeat').sidecar, container('metrics').sidecar]).toEqual([true, true]);
    expect(container('metrics')).toMatchObject({ cpuRequest: 0.1, memoryLimit: 128 * 1024 ** 2 });
    // The pod total is the sum of its containers (no init container is larger).
    const sum = (k: 'cpuRequest' | 'cpuLimit' | 'memoryRequest' | 'memoryLimit') => primary.containers.reduce((n, c) => n + (c[k] ?? 0), 0);
    expect(primary.totals.cpuLimit).toBeCloseTo(sum('cpuLimit'), 6);
    expect(primary.totals.memoryRequest).toBe(sum('memoryRequest'));
    expect(primary.totals.memoryRequest).toBeGreaterThanOrEqual((4096 + 64 + 128) * 1024 ** 2);
    expect(primary.volumes.find((v) => v.name === 'pgdata')).toEqual({ name: 'pgdata', type: 'claim', size: 100 * 1024 ** 3, storageClass: 'fast-ssd' });
    expect(workload('orders-db-replica').containers.filter((c) => c.init).map((c) => c.name)).toEqual(['wait-for-leader']);
  });

  test('no repository without backup objects', () => {
    expect(topology.repositories).toEqual([]);
  });
});

describe('pod totals', () => {
  /** A StatefulSet whose pod has these init containers and containers: `[name, cpu, memory]`. */
  const pod = (init: Array<[string, string, string]>, main: Array<[string, string, string]>): Manifest => {
    const ctr = ([name, cpu, memory]: [string, string, string]) => ({ name, image: 'x', resources: { requests: { cpu, memory }, limits: { cpu, memory } } });
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'p' },
      spec: { template: { metadata: { labels: { a: 'b' } }, spec: { initContainers: init.map(ctr), containers: main.map(ctr) } } },
    };
  };

  test('the sum of the containers, exact to the millicore', () => {
    const totals = extractTopology([pod([['init', '100m', '64Mi']], [['a', '500m', '1Gi'], ['b', '100m', '64Mi'], ['c', '100m', '128Mi']])]).workloads[0].totals;
    expect(totals).toEqual({ cpuRequest: 0.7, cpuLimit: 0.7, memoryRequest: 1216 * 1024 ** 2, memoryLimit: 1216 * 1024 ** 2 });
  });

  test('an init container larger than the others sets the pod\'s request (it runs alone, first)', () => {
    const totals = extractTopology([pod([['init', '8', '16Gi']], [['a', '500m', '1Gi']])]).workloads[0].totals;
    expect(totals).toEqual({ cpuRequest: 8, cpuLimit: 8, memoryRequest: 16 * 1024 ** 3, memoryLimit: 16 * 1024 ** 3 });
  });
});

describe('backups in the topology', () => {
  test('pgbackrest.conf repositories: type, location, options; comments and stanza options ignored', () => {
    const conf = backupObjects().find((m) => m.kind === 'ConfigMap')!.data['pgbackrest.conf'];
    expect(parseRepositories(conf)).toEqual([
      { name: 'repo1', type: 'posix', location: '/pgbackrest/repo1', options: { 'type': 'posix', 'path': '/pgbackrest/repo1', 'retention-full': '2' } },
      {
        name: 'repo2',
        type: 's3',
        location: 'bucket orders-backups /db',
        options: { 'type': 's3', 'path': '/db', 's3-bucket': 'orders-backups', 's3-region': 'eu-west-1' },
      },
    ]);
  });

  test('the files of one cluster merge: the first file\'s value wins; a posix repository behind a host lives on it', () => {
    const member = '[global]\nrepo1-host=db-repo-host-0.db-repo-host.ns.svc\nrepo1-host-port=8432\nrepo2-type=s3\nrepo2-s3-bucket=b\n';
    const job = '[global]\nrepo1-path=/pgbackrest/repo\nrepo2-type=gcs\n';
    expect(parseRepositories(member, job).map((r) => [r.name, r.type, r.location])).toEqual([
      ['repo1', 'posix', '/pgbackrest/repo on db-repo-host-0'], ['repo2', 's3', 'bucket b /var/lib/pgbackrest'],
    ]);
  });

  test('a repository without a type is posix with pgBackRest\'s default path; repos sort by number', () => {
    expect(parseRepositories('repo10-path=/x\nrepo2-retention-full=1\n').map((r) => [r.name, r.type, r.location])).toEqual([
      ['repo2', 'posix', '/var/lib/pgbackrest'], ['repo10', 'posix', '/x'],
    ]);
  });

  test('CronJobs with their schedules write to the repositories their names give; the repository host is a StatefulSet', () => {
    const topology = extractTopology([...synthCluster().filter((m) => !isBackupObject(m)), ...backupObjects()]);
    const backups = topology.workloads.filter((w) => w.role === 'backup').map((w) => [w.name, w.schedule, w.repository, w.backupType]);
    expect(backups).toEqual([['db-backup-repo1-full', '0 1 * * 0', 'repo1', 'full'], ['db-repo2-incr', '0 */6 * * *', 'repo2', 'incr']]);
    expect(topology.repositories.map((r) => r.id)).toEqual(['Repository/repo1', 'Repository/repo2']);
    expect(topology.edges.filter((e) => e.kind === 'backs-up-to').map((e) => [e.from, e.to, e.label])).toEqual([
      ['CronJob/db-backup-repo1-full', 'Repository/repo1', 'full'], ['CronJob/db-repo2-incr', 'Repository/repo2', 'incr'],
    ]);
    const host = topology.workloads.find((w) => w.name === 'db-repo-host')!;
    expect([host.role, host.volumes]).toEqual(['repo-host', [{ name: 'repo', type: 'claim', size: 50 * 1024 ** 3, storageClass: undefined }]]);
    const svg = renderDiagrams([...synthCluster().filter((m) => !isBackupObject(m)), ...backupObjects()]).svg;
    expect(svg).toContain('schedule 0 */6 * * *');
    expect(svg).toContain(`id="${nodeElementId('Repository/repo2')}"`);
    expect(svg).toContain('bucket orders-backups /db');
  });

  test('a backup CronJob naming a repository no pgbackrest.conf declares still gets a node', () => {
    const objs = backupObjects().filter((m) => m.kind !== 'ConfigMap');
    expect(extractTopology(objs).repositories.map((r) => [r.name, r.type, r.location])).toEqual([
      ['repo1', 'unknown', '(no pgbackrest.conf found)'], ['repo2', 'unknown', '(no pgbackrest.conf found)'],
    ]);
  });
});

describe('layout and rendering', () => {
  test('every node and edge of the model is drawn, edges go left to right, boxes do not overlap', () => {
    const topology = extractTopology(exampleManifests('production'));
    const layout = layoutTopology(topology);
    const ids = [...topology.workloads, ...topology.services, ...topology.repositories].map((n) => n.id);
    expect(layout.boxes.map((b) => b.id).sort()).toEqual(ids.sort());
    expect(layout.edges.length).toBe(topology.edges.length);
    for (const e of layout.edges) expect(e.x2).toBeGreaterThan(e.x1);
    for (const a of layout.boxes) {
      for (const b of layout.boxes) {
        if (a === b) continue;
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect([a.id, b.id, apart]).toEqual([a.id, b.id, true]);
      }
      expect(a.x + a.width).toBeLessThanOrEqual(layout.width);
      expect(a.y + a.height).toBeLessThanOrEqual(layout.height);
    }
  });

  test.each(['basic', 'production'])('%s: SVG and HTML are byte-identical across runs', (name) => {
    const a = renderDiagrams(exampleManifests(name));
    const b = renderDiagrams(exampleManifests(name));
    expect(a.svg).toBe(b.svg);
    expect(a.html).toBe(b.html);
  });

  test('the order of the input objects does not change the output', () => {
    const objs = [...synthCluster().filter((m) => !isBackupObject(m)), ...backupObjects()];
    expect(renderDiagrams([...objs].reverse())).toEqual(renderDiagrams(objs));
  });

  test('the HTML page is self-contained: the SVG inline, no external reference, a CSP that forbids fetching', () => {
    const { svg, html } = renderDiagrams(exampleManifests('production'));
    expect(html).toContain(svg.trim());
    expect(html).toContain('default-src \'none\'');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(html).toContain('<h3 id="detail-node-StatefulSet-orders-db-primary">');
  });

  test('text is escaped', () => {
    expect(xml('<a & "b">')).toBe('&lt;a &amp; &quot;b&quot;&gt;');
    const objs = synthCluster();
    const cm = JSON.parse(JSON.stringify(objs.find((m) => m.kind === 'StatefulSet')));
    cm.metadata.name = 'x<y';
    expect(renderDiagrams([cm]).svg).toContain('x&lt;y');
  });
});

describe('pod totals', () => {
  test('a value no container sets is unknown, not zero', () => {
    const backup = extractTopology(backupObjects()).workloads.find((w) => w.name === 'db-repo2-incr')!;
    expect(backup.totals).toEqual({ cpuRequest: undefined, cpuLimit: undefined, memoryRequest: undefined, memoryLimit: undefined });
    expect(layoutTopology(extractTopology(backupObjects())).boxes.find((b) => b.id === backup.id)!.lines.map((l) => l.text)).toContain('pod  cpu -/-  mem -/-');
  });
});

test('the HTML detail tables follow the diagram\'s order: members first', () => {
  const { html } = renderDiagrams(exampleManifests('production').filter((m) => !isBackupObject(m)));
  const headings = [...html.matchAll(/<h3 id="detail-node-([^"]+)">/g)].map((m) => m[1]);
  expect(headings.slice(0, 5)).toEqual([
    'StatefulSet-orders-db-primary', 'StatefulSet-orders-db-replica', 'StatefulSet-orders-db-delayed', 'Deployment-orders-db-pooler', 'Deployment-orders-db-pooler-ro',
  ]);
  expect(headings[headings.length - 1]).toMatch(/^Job-/);
});

describe('the title', () => {
  test('a folder holding two clusters names both, each with its own namespace', () => {
    const both = extractTopology([...exampleManifests('basic'), ...exampleManifests('production')]);
    expect(layoutTopology(both).title).toBe('2 PostgreSQL clusters: db, orders-db (namespace orders)');
  });

  test('one cluster: its name and namespace', () => {
    expect(layoutTopology(extractTopology(exampleManifests('production'))).title).toBe('PostgreSQL cluster orders-db (namespace orders)');
    expect(layoutTopology(extractTopology(exampleManifests('basic'))).title).toBe('PostgreSQL cluster db');
  });
});
