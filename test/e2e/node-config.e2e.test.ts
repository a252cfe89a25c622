/**
 * NodeConfig on real servers:
 * (1) the parameters and pg_hba rendered for several container sizes start a bare PostgreSQL
 *     (the binaries the node agent puts in the pods, test/kube/node-agent/images.ts), which
 *     reports every value back as rendered; its server certificate is the one cert-manager on
 *     the local cluster issues from the synthesized Certificate. Nothing of Kubernetes is emulated.
 * (2) a cluster with a non-default NodeConfig (port, connection limit, timeouts, application
 *     database, synchronous replication, a delayed replica) applied to the local Kubernetes
 *     cluster (test/kube), where each member shows the settings took effect.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ReplicationMode, Resources } from '../../src';
import { KubeCluster, KubePostgres, Obj, deploy } from './harness/kube';
import { ApiWatch, podReady, readyAddresses } from './harness/kube-monitoring';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeServiceDir, makeWorkDir, writeServiceFile } from './lib/fsutil';
import { getCluster } from './lib/patroni';
import { PgTarget, psql } from './lib/pg';
import { SERVICE_USER, killAndWait, leftoverProcesses, spawnGroup, stopAll, waitFor } from './lib/processes';
import { HOST_PG_BIN_DIR } from '../kube/node-agent/images';

const RUN = Date.now().toString(36).slice(-5);
let kube: KubeCluster;
let workDir: string;

beforeAll(() => {
  kube = KubeCluster.up();
  workDir = makeWorkDir('pg-e2e-config');
});

afterAll(async () => {
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
  kube?.down();
});

/** Runs psql as the postgres OS user over the Unix socket (peer authentication, as Patroni does). */
function localSql(socketDir: string, port: number, sql: string): string {
  return execFileSync('setpriv', [`--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--init-groups', '--',
    `${HOST_PG_BIN_DIR}/psql`, '-X', '-A', '-t', '-q', '-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres',
    '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const UNIT_BYTES: Record<string, number> = { 'B': 1, 'kB': 1024, 'MB': 1024 ** 2, 'GB': 1024 ** 3, 'TB': 1024 ** 4, '8kB': 8192, '16MB': 16 * 1024 ** 2 };
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** The rendered value expressed in pg_settings' unit, so both sides compare as numbers. */
function inSettingUnit(rendered: string | number | boolean, unit: string | null): string {
  if (typeof rendered === 'boolean') return rendered ? 'on' : 'off';
  const text = String(rendered);
  const m = /^(-?\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB|ms|s|min|h|d)?$/.exec(text);
  if (!m || !unit) return text;
  const value = Number(m[1]);
  if (unit in UNIT_BYTES) return String(Math.floor((value * UNIT_BYTES[m[2] ?? unit]) / UNIT_BYTES[unit]));
  if (unit in UNIT_MS) return String(Math.floor((value * UNIT_MS[m[2] ?? unit]) / UNIT_MS[unit]));
  return text;
}

/** The synthesized objects of one file, as `kubectl apply -f` reads them. */
function manifests(file: string): Obj[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj).filter((m) => m?.kind);
}

describe('rendered configuration accepted by a real PostgreSQL, for several container sizes', () => {
  const ns = `hb-cfg-tls-${RUN}`;
  const profiles = [
    { memory: Size.mebibytes(256), cpu: kplus.Cpu.units(1) },
    { memory: Size.gibibytes(1), cpu: kplus.Cpu.units(2) },
    { memory: Size.gibibytes(4), cpu: kplus.Cpu.units(4) },
    { memory: Size.gibibytes(16), cpu: kplus.Cpu.units(8) },
  ];
  let tls: Record<string, string>;

  beforeAll(async () => {
    // The server certificate as the cluster gets it: the synthesized Issuers and Certificates,
    // issued by cert-manager on the local cluster (the key and certificate formats it writes).
    await kube.createNamespace(ns);
    const file = synthCluster(path.join(workDir, 'certificates'), 'db', {});
    const certs = manifests(file).filter((m) => m.apiVersion.startsWith('cert-manager.io/'));
    expect(certs.map((m) => m.kind).sort()).toEqual(['Certificate', 'Certificate', 'Certificate', 'Issuer', 'Issuer']);
    await kube.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], certs.map((c) => JSON.stringify(c)).join('\n---\n'));
    tls = await kube.until('cert-manager to issue db-server-tls', 60_000, async () => {
      const s = await kube.getOptional('secret', 'db-server-tls', ns);
      return s?.data?.['tls.crt'] ? kube.secret('db-server-tls', ns) : undefined;
    });
  });

  afterAll(async () => {
    await kube.kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  });

  test.each(profiles.map((p) => [`${p.memory.toMebibytes()}Mi / ${p.cpu.amount} CPU`, p]))('%s', async (label, profile) => {
    const dir = makeServiceDir(path.join(workDir, `profile-${(profile as any).memory.toMebibytes()}`));
    const file = synthCluster(path.join(dir, 'manifests'), 'db', {
      config: { resources: Resources.of(profile as { memory: Size; cpu: kplus.Cpu }) },
    });
    const configMap = manifests(file).find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'db-primary-config')!;
    const cfg = parseYaml(configMap.data['patroni.yaml']);
    const tlsDir = makeServiceDir(path.join(dir, 'tls'));
    for (const key of ['tls.crt', 'tls.key', 'ca.crt']) writeServiceFile(path.join(tlsDir, key), tls[key], key === 'tls.key' ? 0o600 : 0o644);
    const params: Record<string, string | number | boolean> = {
      ...cfg.bootstrap.dcs.postgresql.parameters,
      ...cfg.postgresql.parameters,
      listen_addresses: '127.0.0.31',
      port: 5432,
      unix_socket_directories: makeServiceDir(path.join(dir, 'sock')),
      ssl_cert_file: path.join(tlsDir, 'tls.crt'),
      ssl_key_file: path.join(tlsDir, 'tls.key'),
      ssl_ca_file: path.join(tlsDir, 'ca.crt'),
    };
    const data = path.join(dir, 'data');
    execFileSync('setpriv', [`--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--init-groups', '--',
      `${HOST_PG_BIN_DIR}/initdb`, '-D', data, '-U', 'postgres', '--data-checksums', '-E', 'UTF8'], { stdio: 'pipe' });
    const conf = Object.entries(params).map(([k, v]) => `${k} = '${String(typeof v === 'boolean' ? (v ? 'on' : 'off') : v).replace(/'/g, "''")}'`);
    writeServiceFile(path.join(data, 'postgresql.conf'), conf.join('\n') + '\n');
    writeServiceFile(path.join(data, 'pg_hba.conf'), (cfg.postgresql.pg_hba as string[]).join('\n') + '\n');
    const server = spawnGroup({ name: `pg-${label}`, command: `${HOST_PG_BIN_DIR}/postgres`, args: ['-D', data], logFile: path.join(dir, 'postgres.log') });
    try {
      const sock = params.unix_socket_directories as string;
      await waitFor(() => { try { return localSql(sock, 5432, 'select 1') === '1'; } catch { return false; } },
        30_000, 200, `PostgreSQL with the ${label} parameters to accept connections`);
      // No parameter was rejected or ignored.
      expect(localSql(sock, 5432, 'select coalesce(string_agg(name || \': \' || coalesce(error, \'not applied\'), \'; \'), \'\') from pg_file_settings where error is not null or not applied')).toBe('');
      // Read the settings back over TCP (TLS with cert-manager's certificate): tcp_keepalives_* read 0 on a Unix-socket session.
      localSql(sock, 5432, "alter role postgres password 'profile-check'");
      const caFile = path.join(tlsDir, 'ca.crt');
      const tcp: PgTarget = { host: '127.0.0.31', port: 5432, user: 'postgres', password: 'profile-check', sslmode: 'verify-ca', sslrootcert: caFile };
      expect(await psql(tcp, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')).toBe('t');
      const rows = (await psql(tcp, `select name || '|[' || setting || ']|' || coalesce(unit, '') from pg_settings where name in (${Object.keys(params).map((k) => `'${k}'`).join(',')})`))
        .split('\n').map((l) => /^([^|]+)\|\[(.*)\]\|(.*)$/.exec(l)!);
      const actual = Object.fromEntries(rows.map(([, n, s, u]) => [n, { setting: s, unit: u || null }]));
      for (const [name, value] of Object.entries(params)) {
        expect({ name, setting: actual[name]?.setting }).toEqual({ name, setting: inSettingUnit(value, actual[name]?.unit ?? null) });
      }
      expect(localSql(sock, 5432, 'select count(*) from pg_hba_file_rules where error is not null')).toBe('0');
    } finally {
      await killAndWait(server);
    }
  });
});

describe('a cluster with a non-default NodeConfig, on Kubernetes', () => {
  const ns = `hb-cfg-${RUN}`;
  const PORT = 5433;
  let pg: KubePostgres;
  let members: Obj[];
  const at = (pod: Obj) => pg.superuserAt(pod).then((t) => ({ ...t, port: PORT }));
  const via = (service: string) => pg.superuserVia(service).then((t) => ({ ...t, port: PORT }));
  const pod = (suffix: string) => members.find((p) => p.metadata.name === `pgcustom-${suffix}`)!;

  beforeAll(async () => {
    const d = await deploy(kube, workDir, ns, 'pgcustom', {
      replicas: { count: 1 },
      delayedReplicas: { count: 1, applyDelay: Duration.seconds(15) },
      config: {
        database: { name: 'orders', port: PORT },
        connection: { maxConnections: 50, statementTimeout: Duration.minutes(2) },
        replication: { mode: ReplicationMode.SYNCHRONOUS },
      },
    }, 3);
    record('kube_bootstrap_seconds_node_config', Math.round(d.seconds * 10) / 10);
    pg = d.pg;
    members = await pg.pods();
  });

  afterAll(async () => {
    await kube.kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  });

  test('every member runs with the configured port, connection limit and timeouts; the Services carry the port', async () => {
    expect(members.map((p) => p.metadata.name)).toEqual(['pgcustom-delayed-0', 'pgcustom-primary-0', 'pgcustom-replica-0']);
    for (const m of members) {
      const postgres = m.spec.containers.find((c: any) => c.name === 'postgres');
      expect(postgres.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'postgres', containerPort: PORT })]));
      const target = await at(m);
      expect(await psql(target, "select current_setting('port') || ',' || current_setting('max_connections') || ',' || current_setting('statement_timeout')"))
        .toBe(`${PORT},50,2min`);
    }
    for (const service of ['pgcustom-primary', 'pgcustom-replicas']) {
      const svc = await kube.get('service', service, ns);
      expect(svc.spec.ports).toEqual([expect.objectContaining({ name: 'postgres', port: PORT, targetPort: 'postgres' })]);
    }
    // Through kube-proxy: the read-write ClusterIP on the configured port reaches the leader.
    expect(await psql(await via('pgcustom-primary'), 'select pg_is_in_recovery()')).toBe('f');
  });

  test('the application database was created at bootstrap', async () => {
    const rw = await via('pgcustom-primary');
    expect(await psql(rw, "select count(*) from pg_database where datname = 'orders'")).toBe('1');
    expect(await psql({ ...rw, database: 'orders' }, 'select current_database()')).toBe('orders');
  });

  test('synchronous replication: the streaming replica is the synchronous standby, never the delayed one', async () => {
    const rw = await at(pod('primary-0'));
    const replication = () => psql(rw, "select string_agg(application_name || '=' || sync_state, ',' order by application_name) from pg_stat_replication");
    await waitFor(async () => (await replication()) === 'pgcustom-delayed-0=async,pgcustom-replica-0=sync', 60_000, 250, 'replica-0 as the synchronous standby');
    // Patroni sets synchronous_standby_names first and records the standby in its sync ConfigMap
    // (where /cluster's roles come from) once PostgreSQL reports it as sync: up to a loop later.
    const leader = await pg.member(pod('primary-0'));
    const roles = await waitFor(async () => {
      const r = Object.fromEntries((await getCluster(leader)).json!.members.map((m) => [m.name, m.role]));
      return r['pgcustom-replica-0'] === 'sync_standby' && r;
    }, 30_000, 250, 'Patroni to record pgcustom-replica-0 as the synchronous standby');
    expect(await replication()).toBe('pgcustom-delayed-0=async,pgcustom-replica-0=sync');
    expect(roles).toEqual({ 'pgcustom-primary-0': 'leader', 'pgcustom-replica-0': 'sync_standby', 'pgcustom-delayed-0': 'replica' });
    // Patroni keeps the delayed replica out of synchronous_standby_names.
    expect(await psql(rw, 'show synchronous_standby_names')).not.toMatch(/delayed/);
  });

  test('the delayed replica replays 15 s behind and is never behind the read-only Service', async () => {
    const delayed = pod('delayed-0');
    const replica = pod('replica-0');
    expect(await psql(await at(delayed), 'show recovery_min_apply_delay')).toBe('15s');
    const slices = await ApiWatch.open(kube, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, 'kubernetes.io/service-name=pgcustom-replicas');
    const pods = await ApiWatch.open(kube, `/api/v1/namespaces/${ns}/pods`, 'postgres.cdk8s.io/cluster=pgcustom,app.kubernetes.io/name=postgresql');
    try {
      await slices.when('the read-only slice listed', 0, (s) => s.size > 0, 10_000);
      const rw = await via('pgcustom-primary');
      await psql(rw, 'create table if not exists marks (note text)');
      const written = Date.now();
      await psql(rw, "insert into marks values ('delayed-check')");
      const count = async (p: Obj) => psql(await at(p), "select count(*) from marks where note = 'delayed-check'").catch(() => 'no table yet');
      await waitFor(async () => (await count(replica)) === '1', 10_000, 100, 'the streaming replica to have the row');
      expect(await count(delayed)).not.toBe('1');
      await waitFor(async () => (await count(delayed)) === '1', 40_000, 250, 'the delayed replica to replay the row');
      const delaySeconds = (Date.now() - written) / 1000;
      record('kube_delayed_replica_row_visible_seconds', Math.round(delaySeconds * 10) / 10);
      expect(delaySeconds).toBeGreaterThanOrEqual(15);
      expect(delaySeconds).toBeLessThan(15 + 10);
      // Through kube-proxy: a read through the read-only ClusterIP lands on the streaming replica.
      expect(await psql(await via('pgcustom-replicas'), 'select pg_is_in_recovery()::text || host(inet_server_addr())')).toBe(`true${replica.status.podIP}`);
      // The delayed replica was Ready all along (the selector, not readiness, keeps it out of the Service) ...
      expect(delayed.metadata.labels['postgres.cdk8s.io/serves-reads']).toBeUndefined();
      expect(replica.metadata.labels['postgres.cdk8s.io/serves-reads']).toBe('true');
      const delayedStates = [pods.latest(), ...pods.statesSince(0)].map((s) => podReady(s.get(delayed.metadata.name)));
      expect(delayedStates.every(Boolean)).toBe(true);
      // ... and in every state of the read-only slice the API reported, only the streaming replica was behind it.
      const seen = [slices.latest(), ...slices.statesSince(0)].map((s) => readyAddresses(s).join(','));
      expect([...new Set(seen)]).toEqual([replica.status.podIP]);
    } finally {
      slices.close();
      pods.close();
    }
  });
});
