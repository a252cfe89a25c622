/**
 * Security by default on real Kubernetes (test/kube/cluster.sh): cert-manager's own controllers
 * (our main on its packages, test/kube/cert-manager) issue every synthesized Certificate; clients
 * verify the server by each name the README promises (`<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`,
 * `<svc>.<ns>.svc.cluster.local`, `*.<cluster>-pods`, extraDnsNames) and are refused without
 * TLS; replicas stream over TLS authenticated by their client certificate; passwords are SCRAM
 * verifiers; Patroni's REST API changes state only for a client certificate of the cluster's CA.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { FailoverTiming, Tls } from '../../src';
import { KubeCluster, KubePostgres, Obj } from './harness/kube';
import { clientPod, connValue, psqlConn, runPod } from './harness/kube-access';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';
import { HttpsOptions, httpRequest } from './lib/net';
import { psql } from './lib/pg';

const NAME = 'pgtls';
const RUN = Date.now().toString(36).slice(-5);
const NS = `ac-tls-${RUN}`;
const EXTRA = 'pg.example.test';

let kube: KubeCluster;
let pg: KubePostgres;
let workDir: string;
let caFile: string;
let ca: string;

/** A connection string that verifies the server by `name` at `addr` (no DNS on the host). */
function conn(name: string, addr: string, user: string, password: string, dbname: string, sslmode = 'verify-full'): string {
  return [`host=${name}`, `hostaddr=${addr}`, 'port=5432', `user=${user}`, `password=${connValue(password)}`, `dbname=${dbname}`, `sslmode=${sslmode}`].join(' ');
}
const clusterIp = async (svc: string) => (await kube.get('service', svc, NS)).spec.clusterIP as string;
const superuserPassword = async () => (await kube.secret(`${NAME}-superuser`, NS)).password;

/** Applies cert-manager objects and waits until the Certificate is Ready; returns its Secret's PEMs. */
async function issue(objects: Obj[], certificate: string): Promise<HttpsOptions> {
  await kube.kubectl(['apply', '--server-side', '--field-manager=cdk8s-e2e', '-n', NS, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  await kube.until(`Certificate ${certificate} Ready`, 60_000, async () =>
    (await kube.get('certificates.cert-manager.io', certificate, NS)).status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
  const s = await kube.secret((await kube.get('certificates.cert-manager.io', certificate, NS)).spec.secretName, NS);
  return { cert: s['tls.crt'], key: s['tls.key'] };
}

const clientCertificate = (name: string, issuer: string): Obj => ({
  apiVersion: 'cert-manager.io/v1',
  kind: 'Certificate',
  metadata: { name },
  spec: {
    secretName: `${name}-tls`,
    commonName: 'e2e-operator',
    usages: ['client auth', 'digital signature'],
    privateKey: { algorithm: 'ECDSA', size: 256 },
    issuerRef: { name: issuer, kind: 'Issuer', group: 'cert-manager.io' },
  },
});

beforeAll(async () => {
  workDir = makeWorkDir('pg-e2e-tls');
  kube = KubeCluster.up();
  await kube.createNamespace(NS);
  // TLS is on by default; the namespace option is what a chart without one (kubectl apply -n) needs
  // for the namespaced names.
  const file = synthCluster(path.join(workDir, 'manifests'), NAME, {
    failoverTiming: FailoverTiming.FAST,
    replicas: { count: 1 },
    tls: Tls.certManager({ namespace: NS, extraDnsNames: [EXTRA] }),
    users: [{ name: 'tls_app' }],
    pooler: { instances: 1 },
  });
  const t0 = Date.now();
  await kube.apply(file, NS);
  // cert-manager's controllers issue the CA, then the leaves it signs.
  await kube.until('every Certificate Ready', 120_000, async () => {
    const certs = await kube.list('certificates.cert-manager.io', NS);
    return certs.length === 4 && certs.every((c) => c.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True'));
  }, 250);
  record('kube_tls_certificates_ready_seconds', Math.round((Date.now() - t0) / 100) / 10);
  pg = new KubePostgres(kube, NS, NAME);
  await pg.waitHealthy(2);
  record('kube_tls_bootstrap_seconds', Math.round((Date.now() - t0) / 100) / 10);
  ca = await kube.until(`${NAME}-ca-cert filled by the publisher Job`, 120_000, async () =>
    (await kube.get('configmap', `${NAME}-ca-cert`, NS)).data?.['ca.crt'] as string | undefined);
  caFile = path.join(workDir, 'ca.crt');
  fs.writeFileSync(caFile, ca);
  await kube.until(`Deployment ${NAME}-pooler available`, 120_000, async () => (await kube.get('deployment', `${NAME}-pooler`, NS)).status?.availableReplicas === 1);
});

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
  if (workDir) removeWorkDir(workDir);
});

test('cert-manager issued every synthesized Certificate from the cluster CA; its Secrets were created by cert-manager', async () => {
  const certs = await kube.list('certificates.cert-manager.io', NS);
  expect(certs.map((c) => c.metadata.name).sort()).toEqual([`${NAME}-ca`, `${NAME}-pooler`, `${NAME}-replication`, `${NAME}-server`]);
  for (const c of certs) {
    expect({ c: c.metadata.name, ready: c.status?.conditions?.find((x: any) => x.type === 'Ready')?.status }).toEqual({ c: c.metadata.name, ready: 'True' });
  }
  // Each request was approved and signed by cert-manager's controllers.
  const requests = await kube.list('certificaterequests.cert-manager.io', NS);
  for (const r of requests) {
    const cond = (t: string) => r.status?.conditions?.find((x: any) => x.type === t)?.status;
    expect({ r: r.metadata.name, approved: cond('Approved'), ready: cond('Ready') }).toEqual({ r: r.metadata.name, approved: 'True', ready: 'True' });
  }
  const creators = new Map<string, string[]>();
  for (const e of kube.auditEvents()) {
    // Created: 201 to a create or to a server-side apply (cert-manager applies its Secrets).
    const creates = e.verb === 'create' || e.verb === 'patch';
    if (e.stage === 'ResponseComplete' && creates && e.objectRef?.resource === 'secrets' && e.objectRef?.namespace === NS && e.responseStatus?.code === 201) {
      creators.set(e.objectRef.name, [...(creators.get(e.objectRef.name) ?? []), e.user.username]);
    }
  }
  for (const c of certs) {
    expect({ secret: c.spec.secretName, by: creators.get(c.spec.secretName) }).toEqual({ secret: c.spec.secretName, by: ['system:cert-manager'] });
    const s = await kube.secret(c.spec.secretName, NS);
    const leaf = path.join(workDir, `${c.metadata.name}.crt`);
    fs.writeFileSync(leaf, s['tls.crt']);
    // openssl only checks what cert-manager signed: the chain to the CA the clients get.
    expect(execFileSync('openssl', ['verify', '-CAfile', caFile, leaf], { encoding: 'utf8' }).trim()).toBe(`${leaf}: OK`);
  }
  // The server certificate carries the names the README promises, and the pooler's its own.
  const server = await kube.get('certificates.cert-manager.io', `${NAME}-server`, NS);
  const names = (svc: string) => [svc, `${svc}.${NS}`, `${svc}.${NS}.svc`, `${svc}.${NS}.svc.cluster.local`];
  expect(server.spec.dnsNames).toEqual(expect.arrayContaining([...names(`${NAME}-primary`), ...names(`${NAME}-replicas`), `*.${NAME}-pods`,
    `*.${NAME}-pods.${NS}.svc.cluster.local`, 'localhost', EXTRA]));
  expect((await kube.get('certificates.cert-manager.io', `${NAME}-pooler`, NS)).spec.dnsNames).toEqual([...names(`${NAME}-pooler`), EXTRA]);
});

test('clients verify-full by every name the docs promise, at the Services\' ClusterIPs and the pods\' IPs', async () => {
  const pw = await superuserPassword();
  const env = { PGSSLROOTCERT: caFile };
  const check = "select ssl::text || ',' || version || ',' || pg_is_in_recovery() from pg_stat_ssl where pid = pg_backend_pid()";
  for (const [svc, recovery] of [[`${NAME}-primary`, false], [`${NAME}-replicas`, true]] as const) {
    const ip = await clusterIp(svc);
    for (const name of [svc, `${svc}.${NS}`, `${svc}.${NS}.svc`, `${svc}.${NS}.svc.cluster.local`, EXTRA]) {
      expect({ name, got: await psqlConn(conn(name, ip, 'postgres', pw, 'postgres'), check, env) }).toEqual({ name, got: `true,TLSv1.3,${recovery}` });
    }
  }
  for (const pod of await pg.pods()) {
    for (const name of [`${pod.metadata.name}.${NAME}-pods`, `${pod.metadata.name}.${NAME}-pods.${NS}.svc.cluster.local`]) {
      expect(await psqlConn(conn(name, pod.status.podIP, 'postgres', pw, 'postgres'), 'select ssl from pg_stat_ssl where pid = pg_backend_pid()', env)).toBe('t');
    }
  }
  // The pooler serves its own certificate, by its names, to an application user of its Secret.
  const app = await kube.secret(`${NAME}-user-tls-app`, NS);
  const poolerIp = await clusterIp(`${NAME}-pooler`);
  for (const name of [`${NAME}-pooler`, `${NAME}-pooler.${NS}`, `${NAME}-pooler.${NS}.svc`, `${NAME}-pooler.${NS}.svc.cluster.local`, EXTRA]) {
    expect(await psqlConn(conn(name, poolerIp, app.username, app.password, app.dbname), 'select current_user', env)).toBe('tls_app');
  }
  // A name the certificate does not carry fails verification; verify-ca (no name check) passes.
  const rw = await clusterIp(`${NAME}-primary`);
  await expect(psqlConn(conn(`${NAME}-primary.elsewhere.svc`, rw, 'postgres', pw, 'postgres'), 'select 1', env))
    .rejects.toThrow(/server certificate for "[^"]+" \(and \d+ other names?\) does not match host name "pgtls-primary.elsewhere.svc"/);
  expect(await psqlConn(conn(`${NAME}-primary.elsewhere.svc`, rw, 'postgres', pw, 'postgres', 'verify-ca'), 'select 1', env)).toBe('1');
  // A certificate of another CA does not verify.
  const other = path.join(workDir, 'other-ca.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(workDir, 'other-ca.key'),
    '-out', other, '-subj', '/CN=other-ca', '-days', '1'], { stdio: 'ignore' });
  await expect(psqlConn(conn(`${NAME}-primary`, rw, 'postgres', pw, 'postgres'), 'select 1', { PGSSLROOTCERT: other })).rejects.toThrow(/certificate verify failed/);
});

test('a client pod verifies the server by its cluster DNS name (<svc>.<ns>.svc.cluster.local)', async () => {
  const sts = await kube.get('statefulset', `${NAME}-primary`, NS);
  const image = sts.spec.template.spec.containers.find((c: any) => c.name === 'postgres').image;
  const psqlBin = `/usr/pgsql-${/:(\d+)\./.exec(image)![1]}/bin/psql`;
  const host = `${NAME}-primary.${NS}.svc.cluster.local`;
  const run = await runPod(kube, NS, clientPod('client-fqdn', {
    image,
    command: ['/bin/sh', '-c', `exec ${psqlBin} -X -A -t -q -d "host=${host} dbname=$DBNAME user=$PGUSER sslmode=verify-full" -c "select ssl from pg_stat_ssl where pid = pg_backend_pid()"`],
    env: [
      { name: 'PGSSLROOTCERT', value: '/etc/postgres-ca/ca.crt' },
      { name: 'PGUSER', valueFrom: { secretKeyRef: { name: `${NAME}-user-tls-app`, key: 'username' } } },
      { name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: `${NAME}-user-tls-app`, key: 'password' } } },
      { name: 'DBNAME', valueFrom: { secretKeyRef: { name: `${NAME}-user-tls-app`, key: 'dbname' } } },
    ],
    volumeMounts: [{ name: 'ca', mountPath: '/etc/postgres-ca', readOnly: true }],
  }, [{ name: 'ca', configMap: { name: `${NAME}-ca-cert` } }]));
  expect({ phase: run.phase, exit: run.exitCode, log: run.log.trim() }).toEqual({ phase: 'Succeeded', exit: 0, log: 't' });
});

test('a client without TLS is refused', async () => {
  const pw = await superuserPassword();
  for (const svc of [`${NAME}-primary`, `${NAME}-replicas`]) {
    await expect(psqlConn(conn(svc, await clusterIp(svc), 'postgres', pw, 'postgres', 'disable'), 'select 1'))
      .rejects.toThrow(/pg_hba.conf rejects connection for host "[^"]+", user "postgres", database "postgres", no encryption/);
  }
  const app = await kube.secret(`${NAME}-user-tls-app`, NS);
  await expect(psqlConn(conn(`${NAME}-pooler`, await clusterIp(`${NAME}-pooler`), app.username, app.password, app.dbname, 'disable'), 'select 1'))
    .rejects.toThrow(/SSL required/);
});

test('replication runs over TLS, authenticated by the replication client certificate', async () => {
  const rw = await pg.superuserVia(`${NAME}-primary`);
  const rows = await psql(rw, `select r.application_name || ':' || s.ssl::text || ':' || r.usename || ':' || s.client_dn
    from pg_stat_replication r join pg_stat_ssl s using (pid) order by 1`);
  expect(rows.split('\n')).toEqual([`${NAME}-replica-0:true:replicator:/CN=replicator`]);
  const hba = await psql(rw, "select type || ' ' || auth_method from pg_hba_file_rules where 'replication' = any(database) order by line_number");
  expect([...new Set(hba.split('\n'))]).toEqual(['hostssl cert']);
  // The replica's connection is its own (its pod IP), not one of the tests'.
  const replica = (await pg.pods()).find((p) => p.metadata.labels?.['postgres.cdk8s.io/role'] === 'replica')!;
  expect(await psql(rw, 'select host(client_addr) from pg_stat_replication')).toBe(replica.status.podIP);
});

test('passwords are stored as SCRAM verifiers', async () => {
  const rw = await pg.superuserVia(`${NAME}-primary`);
  expect(await psql(rw, "select string_agg(rolname || ':' || (rolpassword like 'SCRAM-SHA-256$4096:%')::text, ',' order by rolname) from pg_authid where rolname in ('postgres', 'replicator', 'cdk8s_monitor', 'cdk8s_pgbouncer', 'tls_app')"))
    .toBe('cdk8s_monitor:true,cdk8s_pgbouncer:true,postgres:true,replicator:true,tls_app:true');
  expect(await psql(rw, 'show password_encryption')).toBe('scram-sha-256');
});

test('Patroni\'s REST API serves HTTPS and changes state only for a client certificate of the cluster CA', async () => {
  const leader = (await pg.labelledLeader())!;
  const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  const call = (pod: Obj, method: 'GET' | 'POST' | 'PATCH', p: string, https: HttpsOptions, json?: unknown) =>
    httpRequest({ host: pod.status.podIP, port: 8008, path: p, method, json, tls: https, timeoutMs: 60_000 });
  const startTime = async (pod: Obj) => psql(await pg.superuserAt(pod), 'select pg_postmaster_start_time()');
  // Its certificate verifies against the cluster CA by the member's name under the headless Service.
  for (const pod of [leader, replica]) {
    const name = `${pod.metadata.name}.${NAME}-pods.${NS}.svc`;
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const sock = tls.connect({ host: pod.status.podIP, port: 8008, ca, servername: name, checkServerIdentity: () => undefined }, () => {
        const cert = sock.getPeerCertificate();
        const authorized = sock.authorized;
        sock.end();
        if (authorized) resolve(cert); else reject(sock.authorizationError);
      });
      sock.on('error', reject);
    });
    expect({ name, identity: tls.checkServerIdentity(name, peer) }).toEqual({ name, identity: undefined });
    expect(String(tls.checkServerIdentity(`${pod.metadata.name}.elsewhere`, peer))).toMatch(/does not match certificate's altnames/);
  }
  // Read-only endpoints need no client certificate (the kubelet's probes have none).
  expect((await call(leader, 'GET', '/health', { ca })).status).toBe(200);
  // Plain HTTP gets no answer from the TLS port.
  await expect(httpRequest({ host: leader.status.podIP, port: 8008, path: '/health' })).rejects.toThrow();
  const configBefore = JSON.parse((await call(leader, 'GET', '/config', { ca })).body);
  const replicaStarted = await startTime(replica);
  const ops = await issue([clientCertificate('e2e-operator', `${NAME}-ca`)], 'e2e-operator');
  const intruder = await issue([
    { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'e2e-intruder' }, spec: { selfSigned: {} } },
    clientCertificate('e2e-intruder', 'e2e-intruder'),
  ], 'e2e-intruder');
  const patch = { postgresql: { parameters: { log_min_duration_statement: 1234 } } };
  const attempts: Array<[Obj, 'POST' | 'PATCH', string, unknown]> = [
    [leader, 'POST', '/switchover', { leader: leader.metadata.name, candidate: replica.metadata.name }],
    [replica, 'POST', '/restart', {}],
    [leader, 'PATCH', '/config', patch],
  ];
  for (const [pod, method, p, body] of attempts) {
    // Without a client certificate: refused by Patroni.
    expect({ p, status: (await call(pod, method, p, { ca }, body)).status }).toEqual({ p, status: 403 });
    // With one of another CA (same subject): the TLS handshake fails.
    await expect(call(pod, method, p, { ca, ...intruder }, body)).rejects.toThrow(/certificate|alert|socket hang up|ECONNRESET/i);
  }
  // Nothing changed.
  expect((await pg.labelledLeader())!.metadata.name).toBe(leader.metadata.name);
  expect(JSON.parse((await call(leader, 'GET', '/config', { ca })).body)).toEqual(configBefore);
  expect(await startTime(replica)).toBe(replicaStarted);
  // With a client certificate cert-manager issued from the cluster's CA: each change is made.
  expect((await call(leader, 'PATCH', '/config', { ca, ...ops }, patch)).status).toBe(200);
  await kube.until('the patched parameter in effect', 60_000, async () =>
    (await psql(await pg.superuserAt(leader), 'show log_min_duration_statement')) === '1234ms');
  expect((await call(replica, 'POST', '/restart', { ca, ...ops }, {})).status).toBe(200);
  await pg.waitHealthy(2);
  expect(await startTime(replica)).not.toBe(replicaStarted);
  const sw = await call(leader, 'POST', '/switchover', { ca, ...ops }, { leader: leader.metadata.name, candidate: replica.metadata.name });
  expect(sw.status).toBe(200);
  expect((await pg.waitHealthy(2)).metadata.name).toBe(replica.metadata.name);
});
