/**
 * Growing the members' volumes of a running cluster on real Kubernetes (test/kube/cluster.sh).
 * A StatefulSet's claim template is immutable, so `storage.size` stays and `storage.expandedSize`
 * grows the claims: the config Job of the new declaration patches each member's claim, the API
 * server admits it by the StorageClass's allowVolumeExpansion, and the Job waits for the claims'
 * capacity. The resizer is the node agent's stand-in (test/kube/node-agent/resizer.ts, listed in
 * differences.ts). No pod is replaced or restarted, and the data stays. On a StorageClass without
 * expansion the API server refuses and the Job fails saying why.
 */
import * as path from 'node:path';
import { Size } from 'cdk8s';
import { FailoverTiming, PostgresClusterProps } from '../../src';
import { cli } from './harness/cli';
import { KubeCluster, KubePostgres, Obj, deploy } from './harness/kube';
import { jobComplete, jobPods, jobsNamed } from './harness/kube-access';
import { containerLog } from './harness/kube-backup';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';

const RUN = Date.now().toString(36).slice(-5);

let kube: KubeCluster;
let workDir: string;

beforeAll(() => {
  workDir = makeWorkDir('pg-e2e-storage');
  kube = KubeCluster.up();
});

afterAll(() => {
  kube?.down();
  if (workDir) removeWorkDir(workDir);
});

const props = (storageClassName: string, expandedSize?: Size): PostgresClusterProps => ({
  failoverTiming: FailoverTiming.FAST,
  replicas: { count: 1 },
  storage: { size: Size.gibibytes(1), expandedSize, storageClassName },
});

/** Each member pod's uid and its containers' restart counts. */
async function incarnations(pg: KubePostgres): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const pod of await pg.pods()) {
    out[pod.metadata.name] = `${pod.metadata.uid} ${(pod.status.containerStatuses ?? []).map((c: any) => `${c.name}:${c.restartCount}`).sort().join(',')}`;
  }
  return out;
}

/** The config Job created after `earlier` (the Jobs there before the apply). */
async function newConfigJob(ns: string, name: string, earlier: string[]): Promise<Obj> {
  return kube.until('the new config Job', 60_000, async () =>
    (await jobsNamed(kube, ns, `${name}-config-`)).find((j) => !earlier.includes(j.metadata.name)));
}

/** A 2-member cluster on `storageClassName` for the enclosing describe block; its namespace goes after it. */
function deployedFor(ns: string, name: string, storageClassName: string, use: (pg: KubePostgres) => void): void {
  beforeAll(async () => use((await deploy(kube, workDir, ns, name, props(storageClassName), 2)).pg), 600_000);
  afterAll(async () => {
    await kube?.kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  });
}

describe('a StorageClass that allows expansion', () => {
  const name = 'pgsg';
  const ns = `storage-grow-${RUN}`;
  let pg: KubePostgres;
  deployedFor(ns, name, 'standard', (deployed) => { pg = deployed; });

  test('expandedSize grows every member\'s claim and volume; no pod replaced or restarted, the data stays', async () => {
    const rw = await pg.superuserVia(`${name}-primary`);
    await psql(rw, 'create table kept (n int); insert into kept select generate_series(1, 1000)');
    const claims = ['pgdata-pgsg-primary-0', 'pgdata-pgsg-replica-0'];
    for (const c of claims) expect((await kube.get('pvc', c, ns)).status.capacity.storage).toBe('1Gi');
    const before = await incarnations(pg);
    const earlier = (await jobsNamed(kube, ns, `${name}-config-`)).map((j) => j.metadata.name);

    const t0 = Date.now();
    await kube.apply(synthCluster(path.join(workDir, `${ns}-grown`), name, props('standard', Size.gibibytes(2))), ns);
    const job = await jobComplete(kube, ns, (await newConfigJob(ns, name, earlier)).metadata.name, 300_000);
    record('kube_storage_growth_seconds', Math.round((Date.now() - t0) / 100) / 10);

    const log = (await jobPods(kube, ns, job)).map((p) => containerLog(kube, ns, p, 'apply-config')).join('\n');
    for (const c of claims) {
      expect(log).toContain(`expanding volume claim ${c} from 1Gi to 2048Mi`);
      const pvc = await kube.get('pvc', c, ns);
      // The API server writes quantities in their canonical form.
      expect(pvc.spec.resources.requests.storage).toBe('2Gi');
      expect(pvc.status.capacity.storage).toBe('2Gi');
      expect((await kube.get('pv', pvc.spec.volumeName)).spec.capacity.storage).toBe('2Gi');
    }
    expect(log).toMatch(/^volume claims expanded: pgdata-pgsg-primary-0, pgdata-pgsg-replica-0$/m);
    // The claim template stays what the claims were created with: the apply was accepted as is.
    for (const sts of [`${name}-primary`, `${name}-replica`]) {
      expect((await kube.get('statefulset', sts, ns)).spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('1Gi');
    }
    expect(await incarnations(pg)).toEqual(before);
    await pg.waitHealthy(2);
    expect(await psql(rw, 'select count(*) from kept')).toBe('1000');
    // `status` shows the grown volumes.
    const r = await cli('status', name, '-n', ns, '--kubeconfig', kube.kubeconfig, '-o', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).members.map((m: any) => [m.name, m.volume.capacity, m.volume.growing]))
      .toEqual([[`${name}-primary-0`, '2Gi', false], [`${name}-replica-0`, '2Gi', false]]);
  }, 600_000);
});

describe('a StorageClass without expansion', () => {
  const name = 'pgsf';
  const ns = `storage-fixed-${RUN}`;
  let pg: KubePostgres;
  deployedFor(ns, name, 'fixed', (deployed) => { pg = deployed; });

  test('the API server refuses, and the config Job fails saying why and what to do; the claims and the pods stay', async () => {
    const before = await incarnations(pg);
    const earlier = (await jobsNamed(kube, ns, `${name}-config-`)).map((j) => j.metadata.name);
    await kube.apply(synthCluster(path.join(workDir, `${ns}-grown`), name, props('fixed', Size.gibibytes(2))), ns);
    const job = await newConfigJob(ns, name, earlier);
    // The program exits non-zero (its container is restarted with a back-off, with the same answer each time).
    const log = await kube.until('the config Job\'s refusal', 240_000, async () => {
      const text = (await jobPods(kube, ns, job)).map((p) => containerLog(kube, ns, p, 'apply-config')).join('\n');
      return /was refused/.test(text) ? text : undefined;
    }, 1000);
    expect(log).toContain('expanding volume claim pgdata-pgsf-primary-0 to 2048Mi was refused: 403');
    expect(log).toContain('only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize');
    expect(log).toContain('Its StorageClass (fixed) must allow volume expansion (allowVolumeExpansion: true); nothing else of this change was applied');
    expect((await kube.get('pvc', 'pgdata-pgsf-primary-0', ns)).spec.resources.requests.storage).toBe('1Gi');
    expect(await incarnations(pg)).toEqual(before);
  }, 600_000);
});
