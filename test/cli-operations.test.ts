/**
 * The operations commands as functions: kubeconfig resolution (kubectl's rules), the status
 * computed from the objects Patroni writes (fixtures shaped like a real cluster's), the switchover
 * checks and the exit code of an unreachable API. The commands against a real API server are in
 * test/e2e/cli-operations.e2e.test.ts.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments, stringify } from 'yaml';
import { exampleYaml } from './helpers/manifests';
import { backupJob } from '../src/cli/commands/backup';
import { restartJob, runRestart } from '../src/cli/commands/restart';
import { clusterStatus, formatStatus } from '../src/cli/commands/status';
import { checkSwitchover, switchover } from '../src/cli/commands/switchover';
import { EXIT_FAILED, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_USAGE } from '../src/cli/exit';
import { KubeApiError, KubeClient, loadKubeconfig } from '../src/cli/kube/client';
import { main } from '../src/cli/main';

const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));

function kubeconfig(file: string, doc: object): string {
  const p = join(dir, file);
  writeFileSync(p, stringify(doc));
  return p;
}

const base = (server: string, user: object, extra: object = {}) => ({
  'apiVersion': 'v1',
  'kind': 'Config',
  'current-context': 'main',
  'contexts': [{ name: 'main', context: { cluster: 'c1', user: 'u1', namespace: 'shop' } }],
  'clusters': [{ name: 'c1', cluster: { 'server': server, 'certificate-authority': 'ca.pem' } }],
  'users': [{ name: 'u1', user }],
  ...extra,
});

describe('kubeconfig', () => {
  writeFileSync(join(dir, 'ca.pem'), 'CA');
  writeFileSync(join(dir, 'token'), 'file-token\n');

  test('context, namespace, CA file relative to the kubeconfig, client certificate data', () => {
    const p = kubeconfig('a.yaml', base('https://api.example:6443/', {
      'client-certificate-data': Buffer.from('CERT').toString('base64'),
      'client-key-data': Buffer.from('KEY').toString('base64'),
    }));
    const c = loadKubeconfig({ kubeconfig: p }, {});
    expect({ server: c.server, ns: c.namespace, ca: c.ca?.toString(), cert: c.cert?.toString(), key: c.key?.toString(), token: c.token })
      .toEqual({ server: 'https://api.example:6443', ns: 'shop', ca: 'CA', cert: 'CERT', key: 'KEY', token: undefined });
    expect(loadKubeconfig({ kubeconfig: p, namespace: 'other' }, {}).namespace).toBe('other');
  });

  test('token file, and KUBECONFIG files merged with the first one winning', () => {
    const first = kubeconfig('first.yaml', { 'current-context': 'main', 'users': [{ name: 'u1', user: { tokenFile: 'token' } }] });
    const second = kubeconfig('second.yaml', base('https://second:443', { token: 'ignored' }));
    const c = loadKubeconfig({}, { KUBECONFIG: `${first}:${second}` });
    expect([c.server, c.token, c.context]).toEqual(['https://second:443', 'file-token', 'main']);
  });

  test('an exec credential plugin (as EKS, GKE and AKS kubeconfigs have) gives the token', () => {
    const plugin = join(dir, 'plugin.sh');
    writeFileSync(plugin, '#!/bin/sh\necho "{\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$TOKEN_FROM_ENV\\"}}"\n');
    chmodSync(plugin, 0o755);
    const p = kubeconfig('exec.yaml', base('https://api:6443', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, env: [{ name: 'TOKEN_FROM_ENV', value: 'exec-token' }] },
    }));
    expect(loadKubeconfig({ kubeconfig: p }, { PATH: process.env.PATH }).token).toBe('exec-token');
  });

  test('errors name what is missing', () => {
    expect(() => loadKubeconfig({ kubeconfig: join(dir, 'nope.yaml') }, {})).toThrow(/no kubeconfig: .*nope\.yaml does not exist; pass --kubeconfig or set KUBECONFIG/);
    const p = kubeconfig('b.yaml', base('https://x', {}));
    expect(() => loadKubeconfig({ kubeconfig: p, context: 'prod' }, {})).toThrow('kubeconfig: no context named prod');
    const noServer = kubeconfig('c.yaml', { ...base('', {}), clusters: [{ name: 'c1', cluster: {} }] });
    expect(() => loadKubeconfig({ kubeconfig: noServer }, {})).toThrow('kubeconfig: context main names cluster c1, which has no server');
  });
});

/** A member pod as Patroni's Kubernetes DCS leaves it (status annotation, labels, readiness). */
function pod(name: string, data: object | undefined, ready: boolean, ip: string) {
  return {
    metadata: { name, annotations: data ? { status: JSON.stringify(data) } : {} },
    spec: { nodeName: 'node-a' },
    status: { podIP: ip, phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

const OBJECTS = {
  pods: [
    pod('db-replica-1', { state: 'running', role: 'replica', timeline: 2, xlog_location: 50331648, replay_lsn: 50331648, replication_state: 'streaming', pending_restart: true }, true, '10.0.0.3'),
    pod('db-primary-0', { state: 'running', role: 'primary', timeline: 2, xlog_location: 54100656 }, true, '10.0.0.1'),
    pod('db-replica-0', { state: 'running', role: 'replica', timeline: 2, xlog_location: 54100656, replay_lsn: 54100656, replication_state: 'streaming' }, true, '10.0.0.2'),
    pod('db-replica-2', undefined, false, '10.0.0.4'),
  ],
  leaderConfigMap: { metadata: { annotations: { leader: 'db-primary-0' } } },
  syncConfigMap: { metadata: { annotations: { leader: 'db-primary-0', sync_standby: 'db-replica-0' } } },
  endpointSlices: [
    { metadata: { labels: { 'kubernetes.io/service-name': 'db-primary' } }, endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'db-primary-0' } }] },
    {
      metadata: { labels: { 'kubernetes.io/service-name': 'db-replicas' } },
      endpoints: [
        { addresses: ['10.0.0.3'], conditions: { ready: true } },
        { addresses: ['10.0.0.2'], conditions: { ready: true } },
        { addresses: ['10.0.0.4'], conditions: { ready: false } },
      ],
    },
  ],
  cronJobs: [
    { metadata: { name: 'db-repo1-full', labels: { 'app.kubernetes.io/component': 'backup' } }, spec: { schedule: '0 1 * * 0' }, status: { lastSuccessfulTime: '2026-11-29T01:04:00Z', lastScheduleTime: '2026-11-29T01:00:00Z' } },
    { metadata: { name: 'db-publish-ca', labels: {} }, spec: { schedule: '*/10 * * * *' } },
  ],
  certificates: [{ metadata: { name: 'db-server' }, status: { notAfter: '2027-03-01T00:00:00Z', renewalTime: '2027-02-14T00:00:00Z', conditions: [{ type: 'Ready', status: 'True' }] } }],
};

describe('status', () => {
  const s = clusterStatus('db', 'shop', OBJECTS);

  test('members: role from the leader lock and the sync state, lag from Patroni\'s positions, pending restart', () => {
    expect(s.leader).toBe('db-primary-0');
    expect(s.members.map((m) => [m.name, m.role, m.state, m.ready, m.lagBytes, m.pendingRestart])).toEqual([
      ['db-primary-0', 'leader', 'running', true, 0, false],
      ['db-replica-0', 'sync standby', 'streaming', true, 0, false],
      ['db-replica-1', 'replica', 'streaming', true, 54100656 - 50331648, true],
      ['db-replica-2', '-', 'running', false, undefined, false],
    ]);
  });

  test('Services by ready endpoint (pod names), backup schedules only, certificates', () => {
    expect(s.services).toEqual([{ name: 'db-primary', endpoints: ['db-primary-0'] }, { name: 'db-replicas', endpoints: ['db-replica-0', 'db-replica-1'] }]);
    expect(s.backups).toEqual([{ cronJob: 'db-repo1-full', schedule: '0 1 * * 0', lastSuccessfulTime: '2026-11-29T01:04:00Z', lastScheduleTime: '2026-11-29T01:00:00Z', active: 0 }]);
    expect(s.certificates).toEqual([{ name: 'db-server', ready: true, notAfter: '2027-03-01T00:00:00Z', renewalTime: '2027-02-14T00:00:00Z' }]);
  });

  test('a dual-stack Service (a slice per family, addresses without pod references) lists each pod once', () => {
    const dualPod = (name: string, ips: string[]) => {
      const p = pod(name, undefined, true, ips[0]);
      return { ...p, status: { ...p.status, podIPs: ips.map((ip) => ({ ip })) } };
    };
    const slice = (addressType: string, addresses: string[]) => ({
      metadata: { labels: { 'kubernetes.io/service-name': 'db-replicas' } },
      addressType,
      endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    });
    const dual = clusterStatus('db', 'shop', {
      ...OBJECTS,
      pods: [dualPod('db-replica-0', ['10.0.0.2', 'fd00::2']), dualPod('db-replica-1', ['10.0.0.3', 'fd00::3'])],
      endpointSlices: [slice('IPv4', ['10.0.0.2', '10.0.0.3']), slice('IPv6', ['fd00::3', 'fd00::2'])],
    });
    expect(dual.services).toEqual([{ name: 'db-replicas', endpoints: ['db-replica-0', 'db-replica-1'] }]);
  });

  test('the table for people', () => {
    const text = formatStatus(s);
    expect(text).toContain('Cluster db in namespace shop: leader db-primary-0');
    expect(text).toMatch(/db-replica-1\s+replica\s+streaming\s+yes\s+2\s+3\.6 MiB\s+yes\s+node-a/);
    expect(text).toMatch(/db-replicas\s+db-replica-0,db-replica-1/);
    expect(text).toMatch(/db-repo1-full\s+0 1 \* \* 0\s+2026-11-29T01:04:00Z/);
    expect(clusterStatus('db', 'shop', { ...OBJECTS, leaderConfigMap: undefined }).leader).toBeUndefined();
    expect(formatStatus(clusterStatus('db', 'shop', { ...OBJECTS, leaderConfigMap: undefined }))).toContain('leader NONE');
  });
});

test('status: a member whose pod is not at its StatefulSet\'s update revision awaits the config Job; unknown without the StatefulSets', () => {
  const owned = (p: any, sts: string, revision: string) => ({ ...p, metadata: { ...p.metadata, labels: { 'controller-revision-hash': revision }, ownerReferences: [{ kind: 'StatefulSet', name: sts }] } });
  const [r1, p0, r0] = OBJECTS.pods;
  const objects = {
    ...OBJECTS,
    pods: [owned(r1, 'db-replica', 'db-replica-new'), owned(p0, 'db-primary', 'db-primary-old'), owned(r0, 'db-replica', 'db-replica-old')],
    statefulSets: [
      { metadata: { name: 'db-primary' }, status: { updateRevision: 'db-primary-new' } },
      { metadata: { name: 'db-replica' }, status: { updateRevision: 'db-replica-new' } },
    ],
  };
  const st = clusterStatus('db', 'shop', objects);
  expect(st.members.map((m) => [m.name, m.upToDate])).toEqual([['db-primary-0', false], ['db-replica-0', false], ['db-replica-1', true]]);
  expect(formatStatus(st)).toMatch(/db-primary-0\s+leader\s+running\s+yes.*node-a\s+no \(awaits the config Job\)/);
  expect(formatStatus(st)).toMatch(/db-replica-1\s+replica.*node-a\s+yes/);
  expect(clusterStatus('db', 'shop', { ...objects, statefulSets: [] }).members.map((m) => m.upToDate)).toEqual([undefined, undefined, undefined]);
  expect(formatStatus(clusterStatus('db', 'shop', OBJECTS))).toMatch(/db-primary-0\s+leader.*node-a\s+-/);
});

describe('switchover checks', () => {
  const s = clusterStatus('db', 'shop', OBJECTS);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err: any) {
      return [err.exitCode, err.message];
    }
    return [0, ''];
  };

  test('a ready replica, or none named, is accepted', () => {
    expect(checkSwitchover(s, 'db-replica-0')).toBe('db-primary-0');
    expect(checkSwitchover(s, undefined)).toBe('db-primary-0');
  });

  test('unknown member, the leader itself, an unready member and no leader are refused with their exit codes', () => {
    expect(code(() => checkSwitchover(s, 'db-replica-9'))).toEqual([EXIT_NOT_FOUND, 'cluster db has no member db-replica-9; members: db-primary-0, db-replica-0, db-replica-1, db-replica-2']);
    expect(code(() => checkSwitchover(s, 'db-primary-0'))).toEqual([EXIT_USAGE, expect.stringContaining('db-primary-0 is the leader already')]);
    expect(code(() => checkSwitchover(s, 'db-replica-2'))).toEqual([EXIT_FAILED, expect.stringContaining('db-replica-2 is not a ready replica')]);
    const leaderless = clusterStatus('db', 'shop', { ...OBJECTS, leaderConfigMap: undefined });
    expect(code(() => checkSwitchover(leaderless, undefined))).toEqual([EXIT_FAILED, expect.stringContaining('cluster db has no leader now')]);
  });
});

describe('switchover against a fake API', () => {
  // The labels Patroni's Kubernetes DCS puts on its leader lock (its label selector).
  const LOCK_LABELS = { 'app.kubernetes.io/name': 'postgresql', 'postgres.cdk8s.io/cluster': 'db' };

  /** Answers the reads `status` makes from OBJECTS; Patroni hands the lock to db-replica-0 once the request is written. */
  function fakeApi() {
    const calls: { method: string; path: string; body?: any }[] = [];
    let leader = 'db-primary-0';
    const lock = () => ({ metadata: { name: 'db-leader', labels: LOCK_LABELS, annotations: { leader } } });
    const request = async (method: string, path: string, body?: unknown) => {
      calls.push({ method, path, body });
      const p = path.split('?')[0];
      if (method === 'GET') {
        if (p.endsWith('/pods')) return { items: OBJECTS.pods };
        if (p.endsWith('/configmaps/db-leader')) return lock();
        if (p.endsWith('/configmaps/db-sync')) return OBJECTS.syncConfigMap;
        if (p.endsWith('/endpointslices')) return { items: OBJECTS.endpointSlices };
        if (p.endsWith('/cronjobs')) return { items: OBJECTS.cronJobs };
        if (p.endsWith('/certificates')) return { items: OBJECTS.certificates };
        throw new KubeApiError(404, 'NotFound', `${p} not found`);
      }
      if (method === 'POST' && p === '/api/v1/namespaces/shop/configmaps') {
        leader = 'db-replica-0';
        return body;
      }
      throw new Error(`unexpected ${method} ${path}`);
    };
    const getOptional = async (path: string) => request('GET', path).catch((e) => {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    });
    return { client: { request, getOptional } as unknown as KubeClient, calls };
  }

  test('the request carries the leader lock\'s labels, from the one read of the lock before it', async () => {
    const { client, calls } = fakeApi();
    const result = await switchover(client, 'db', 'shop', { to: 'db-replica-0', timeoutSeconds: 5, pollMs: 1 });
    expect([result.from, result.to]).toEqual(['db-primary-0', 'db-replica-0']);
    const post = calls.findIndex((c) => c.method === 'POST');
    expect(calls[post].body.metadata).toEqual({ name: 'db-failover', labels: LOCK_LABELS, annotations: { leader: 'db-primary-0', member: 'db-replica-0' } });
    // Before the request: the lock is read once (by the status fetch), not again to copy its labels.
    expect(calls.slice(0, post).filter((c) => c.path.endsWith('/configmaps/db-leader'))).toHaveLength(1);
  });
});

test('an API server that does not answer: exit code 4 and a message naming it', async () => {
  const p = kubeconfig('down.yaml', base('https://127.0.0.1:1', { token: 't' }));
  const err: string[] = [];
  const code = await main(['status', 'db', '--kubeconfig', p], { out: () => undefined, err: (t) => err.push(t) });
  expect(code).toBe(EXIT_UNREACHABLE);
  expect(err.join('')).toMatch(/^error: the Kubernetes API at https:\/\/127\.0\.0\.1:1 \(context main\) is not reachable: connect ECONNREFUSED/);
});

describe('backup Job', () => {
  const cronJobs = parseAllDocuments(exampleYaml('production')).map((d) => d.toJS()).filter((o) => o?.kind === 'CronJob')
    .map((c, i) => ({ ...c, metadata: { ...c.metadata, uid: `uid-${i}` } }));
  const now = new Date('2026-12-01T12:34:56Z');

  test('from the repository\'s CronJob of that type: its template, owned by it, annotated as kubectl create job --from does', () => {
    const { job, from } = backupJob('orders-db', cronJobs, { repo: 2, type: 'diff', now });
    expect(from).toBe('orders-db-repo2-diff');
    const source = cronJobs.find((c) => c.metadata.name === from);
    expect(job.metadata).toEqual({
      name: 'orders-db-repo2-diff-manual-20261201123456',
      labels: source.spec.jobTemplate.metadata.labels,
      annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: from, uid: source.metadata.uid, controller: true, blockOwnerDeletion: false }],
    });
    expect(job.spec).toEqual(source.spec.jobTemplate.spec);
  });

  test('a type the repository has no schedule for: another of its CronJobs with --type changed, nothing else', () => {
    const { job, from } = backupJob('orders-db', cronJobs, { repo: 1, type: 'diff', now });
    expect(from).toBe('orders-db-repo1-full');
    expect(job.spec.template.spec.containers[0].command).toEqual(['/usr/bin/pgbackrest', '--stanza=orders-db', '--repo=1', '--type=diff', 'backup']);
    const sourceContainer = cronJobs.find((c) => c.metadata.name === from).spec.jobTemplate.spec.template.spec.containers[0];
    expect(sourceContainer.command).toContain('--type=full');
    expect({ ...job.spec.template.spec.containers[0], command: undefined }).toEqual({ ...sourceContainer, command: undefined });
  });

  test('a repository without schedules, or a cluster without backups: not found, naming what exists', () => {
    expect(() => backupJob('orders-db', cronJobs, { repo: 3, type: 'full', now })).toThrow('cluster orders-db has no backup schedule for repository 3; its repositories: 1, 2');
    expect(() => backupJob('other', cronJobs, { repo: 1, type: 'full', now })).toThrow('cluster other has no backup schedule for repository 1 (no backup CronJobs: is backup configured?)');
  });
});

describe('restart', () => {
  const synthesized = parseAllDocuments(exampleYaml('basic')).map((d) => d.toJSON()).find((o) => o?.kind === 'CronJob' && o.metadata.name === 'db-restart');
  const cronJob = { ...synthesized, metadata: { ...synthesized.metadata, uid: 'cj-uid' } };
  const now = new Date('2026-12-01T16:40:05Z');

  test('the synthesized restart CronJob is suspended and runs the config program restarting every member', () => {
    expect(synthesized.spec.suspend).toBe(true);
    const env = synthesized.spec.jobTemplate.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'PGC_RESTART', value: 'all' });
    expect(synthesized.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('postgresql-config');
  });

  test('its Job is the CronJob\'s template, owned by it and marked manual, as kubectl create job --from makes it', () => {
    const job = restartJob('db', cronJob, now);
    expect(job.metadata.name).toBe('db-restart-manual-20261201164005');
    expect(job.metadata.annotations['cronjob.kubernetes.io/instantiate']).toBe('manual');
    expect(job.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'db-restart', uid: 'cj-uid', controller: true, blockOwnerDeletion: false }]);
    expect(job.spec).toEqual(cronJob.spec.jobTemplate.spec);
  });

  test('a cluster without the CronJob: not found, saying what to check', () => {
    expect(() => restartJob('other', undefined, now)).toThrow(/cluster other has no CronJob other-restart/);
  });

  test('against a fake API: the Job is created and followed until it completes', async () => {
    const calls: string[] = [];
    let polls = 0;
    const request = async (method: string, path: string, body?: any) => {
      calls.push(`${method} ${path}`);
      if (method === 'GET' && path.endsWith('/cronjobs/db-restart')) return cronJob;
      if (method === 'POST' && path === '/apis/batch/v1/namespaces/shop/jobs') return body;
      if (method === 'GET' && path.endsWith('/jobs/db-restart-manual-20261201164005')) {
        return { status: { conditions: ++polls < 2 ? [] : [{ type: 'Complete', status: 'True' }] } };
      }
      throw new KubeApiError(404, 'NotFound', `${path} not found`);
    };
    const client = { request, getOptional: (p: string) => request('GET', p) } as unknown as KubeClient;
    const r = await runRestart(client, 'db', 'shop', { wait: true, timeoutSeconds: 5, pollMs: 1, now });
    expect([r.job, r.fromCronJob, r.outcome]).toEqual(['db-restart-manual-20261201164005', 'db-restart', 'succeeded']);
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual(['POST /apis/batch/v1/namespaces/shop/jobs']);
  });
});

test('status: each member\'s volume from its claim, an expansion under way shown as growing; unknown without the claims', () => {
  const claim = (member: string, requested: string, capacity: string) => ({ metadata: { name: `pgdata-${member}` }, spec: { resources: { requests: { storage: requested } } }, status: { capacity: { storage: capacity } } });
  const objects = { ...OBJECTS, claims: [claim('db-primary-0', '2Gi', '2Gi'), claim('db-replica-0', '2048Mi', '1Gi'), claim('db-replica-1', '1Gi', '1024Mi')] };
  const st = clusterStatus('db', 'shop', objects);
  expect(st.members.map((m) => [m.name, m.volume?.capacity, m.volume?.growing])).toEqual([
    ['db-primary-0', '2Gi', false], ['db-replica-0', '1Gi', true], ['db-replica-1', '1024Mi', false], ['db-replica-2', undefined, undefined],
  ]);
  const text = formatStatus(st);
  expect(text).toMatch(/db-primary-0\s+leader.*\s2Gi\n/);
  expect(text).toMatch(/db-replica-0\s+sync standby.*\s1Gi \(growing to 2048Mi\)\n/);
  expect(text).toMatch(/db-replica-2\s.*\s-\n/);
  expect(clusterStatus('db', 'shop', OBJECTS).members.every((m) => m.volume === undefined)).toBe(true);
});
