/**
 * Security by default, run for real: the cluster's certificates (issued here from the
 * synthesized cert-manager Certificates), TLS-only client access, replication over TLS with
 * client certificates, SCRAM verifiers, and a REST API that refuses state changes without a
 * client certificate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailoverTiming } from '../../src';
import { LoopbackCluster } from './harness/cluster';
import { synthCluster } from './harness/synth';
import { startEtcd } from './lib/etcd';
import { makeWorkDir } from './lib/fsutil';
import { findFreePort, httpRequest } from './lib/net';
import { switchover, waitForLeader } from './lib/patroni';
import { PgTarget, psql } from './lib/pg';
import { leftoverProcesses, stopAll, waitFor } from './lib/processes';

let cluster: LoopbackCluster;
let ca: string;

beforeAll(async () => {
  const workDir = makeWorkDir('pg-e2e-tls');
  const etcd = await startEtcd({ workDir, clientPort: await findFreePort(), peerPort: await findFreePort() });
  const dir = path.join(workDir, 'pgtls');
  fs.mkdirSync(dir, { recursive: true });
  // TLS is not configured: it is the default.
  const file = synthCluster(path.join(dir, 'manifests'), 'pgtls', { failoverTiming: FailoverTiming.FAST });
  cluster = new LoopbackCluster({ manifestFile: file, workDir: dir, etcdEndpoint: etcd.endpoint });
  ca = cluster.secretFile('pgtls-ca', 'ca.crt');
  await cluster.startHealthy();
});

afterAll(async () => {
  if (cluster) await cluster.shutdown();
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
});

test('a client without TLS is refused; with TLS it verifies the server by the Service name', async () => {
  const rw = cluster.superuserVia('pgtls-primary');
  await expect(psql({ ...rw, sslmode: 'disable' }, 'select 1')).rejects.toThrow(/no encryption|rejects connection/);
  // verify-full: the certificate must carry the Service's name (resolved here to the Service).
  const verified: PgTarget = { ...rw, host: 'pgtls-primary', sslmode: 'verify-full', sslrootcert: ca };
  expect(await psql(verified, 'select ssl::text || \',\' || version from pg_stat_ssl where pid = pg_backend_pid()')).toBe('true,TLSv1.3');
  const ro: PgTarget = { ...cluster.superuserVia('pgtls-replicas'), host: 'pgtls-replicas', sslmode: 'verify-full', sslrootcert: ca };
  expect(await psql(ro, 'select pg_is_in_recovery()')).toBe('t');
});

test('replication runs over TLS, authenticated by the replication client certificate', async () => {
  const rw = cluster.superuserVia('pgtls-primary');
  const rows = await psql(rw, `select r.application_name || ':' || s.ssl::text || ':' || r.usename
    from pg_stat_replication r join pg_stat_ssl s using (pid) order by 1`);
  expect(rows.split('\n')).toEqual(['pgtls-replica-0:true:replicator', 'pgtls-replica-1:true:replicator']);
  const hba = await psql(rw, "select type || ' ' || auth_method from pg_hba_file_rules where 'replication' = any(database) order by line_number");
  expect([...new Set(hba.split('\n'))]).toEqual(['hostssl cert']);
});

test('passwords are stored as SCRAM verifiers', async () => {
  const rw = cluster.superuserVia('pgtls-primary');
  expect(await psql(rw, "select string_agg(rolname || ':' || (rolpassword like 'SCRAM-SHA-256$%')::text, ',' order by rolname) from pg_authid where rolname in ('postgres', 'replicator', 'cdk8s_monitor')"))
    .toBe('cdk8s_monitor:true,postgres:true,replicator:true');
});

test('the REST API serves HTTPS and refuses a switchover without a client certificate', async () => {
  const leader = await waitForLeader(cluster.running());
  const candidate = cluster.running().find((m) => m.name !== leader.name)!;
  const leaderTls = cluster.member(leader.name).apiTls!;
  // Read-only endpoints need no client certificate (the kubelet's probes have none)...
  const health = await httpRequest({ host: leader.host, port: leader.apiPort, path: '/health', tls: { ca: leaderTls.ca } });
  expect(health.status).toBe(200);
  // ...changing state does.
  const anonymous = await httpRequest({
    host: leader.host,
    port: leader.apiPort,
    path: '/switchover',
    method: 'POST',
    json: { leader: leader.name, candidate: candidate.name },
    tls: { ca: leaderTls.ca },
  });
  expect(anonymous.status).toBe(403);
  expect((await waitForLeader(cluster.running())).name).toBe(leader.name);
  const allowed = await switchover(leader, { leader: leader.name, candidate: candidate.name });
  expect(allowed.status).toBe(200);
  await waitFor(async () => (await waitForLeader(cluster.running())).name === candidate.name, 30_000, 250, 'the switchover');
});
