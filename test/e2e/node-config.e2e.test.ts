/**
 * NodeConfig on real servers: (1) the parameters and pg_hba rendered for several container
 * sizes start a real PostgreSQL, which reports every value back as rendered; (2) a cluster with
 * a non-default NodeConfig (synchronous, custom port, database name, delayed replica) runs on
 * loopback and each member shows the settings took effect.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse as parseYaml } from 'yaml';
import { ReplicationMode, Resources } from '../../src';
import { issueCertificates } from './harness/cert-manager';
import { LoopbackCluster } from './harness/cluster';
import { HOST_BIN_DIR } from './harness/differences';
import { findObject, loadManifests } from './harness/manifests';
import { synthCluster } from './harness/synth';
import { EtcdServer, startEtcd } from './lib/etcd';
import { makeServiceDir, makeWorkDir, writeServiceFile } from './lib/fsutil';
import { findFreePort } from './lib/net';
import { getStatus } from './lib/patroni';
import { psql } from './lib/pg';
import { SERVICE_USER, killAndWait, leftoverProcesses, spawnGroup, stopAll, waitFor } from './lib/processes';

let workDir: string;

beforeAll(() => {
  workDir = makeWorkDir('pg-e2e-config');
});

afterAll(async () => {
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
});

/** Runs psql as the postgres OS user over the Unix socket (peer authentication, as Patroni does). */
function localSql(socketDir: string, port: number, sql: string): string {
  return execFileSync('setpriv', [`--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--init-groups', '--',
    `${HOST_BIN_DIR}/psql`, '-X', '-A', '-t', '-q', '-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', 'postgres',
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

describe('rendered configuration accepted by a real PostgreSQL, for several container sizes', () => {
  const profiles = [
    { memory: Size.mebibytes(256), cpu: kplus.Cpu.units(1) },
    { memory: Size.gibibytes(1), cpu: kplus.Cpu.units(2) },
    { memory: Size.gibibytes(4), cpu: kplus.Cpu.units(4) },
    { memory: Size.gibibytes(16), cpu: kplus.Cpu.units(8) },
  ];

  test.each(profiles.map((p) => [`${p.memory.toMebibytes()}Mi / ${p.cpu.amount} CPU`, p]))('%s', async (label, profile) => {
    const dir = makeServiceDir(path.join(workDir, `profile-${(profile as any).memory.toMebibytes()}`));
    const file = synthCluster(path.join(dir, 'manifests'), 'db', {
      config: { resources: Resources.of(profile as { memory: Size; cpu: kplus.Cpu }) },
    });
    const manifests = loadManifests(file);
    const cfg = parseYaml(findObject(manifests, 'ConfigMap', 'db-primary-config').data['patroni.yaml']);
    // The server certificate, issued from the synthesized Certificates as cert-manager would.
    const issued = issueCertificates(manifests, path.join(dir, 'secrets')).get('db-server-tls')!;
    const tlsDir = makeServiceDir(path.join(dir, 'tls'));
    for (const key of ['tls.crt', 'tls.key', 'ca.crt']) {
      writeServiceFile(path.join(tlsDir, key), fs.readFileSync(path.join(issued, key), 'utf8'), key === 'tls.key' ? 0o600 : 0o644);
    }
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
      `${HOST_BIN_DIR}/initdb`, '-D', data, '-U', 'postgres', '--data-checksums', '-E', 'UTF8'], { stdio: 'pipe' });
    const conf = Object.entries(params).map(([k, v]) => `${k} = '${String(typeof v === 'boolean' ? (v ? 'on' : 'off') : v).replace(/'/g, "''")}'`);
    writeServiceFile(path.join(data, 'postgresql.conf'), conf.join('\n') + '\n');
    writeServiceFile(path.join(data, 'pg_hba.conf'), (cfg.postgresql.pg_hba as string[]).join('\n') + '\n');
    const server = spawnGroup({ name: `pg-${label}`, command: `${HOST_BIN_DIR}/postgres`, args: ['-D', data], logFile: path.join(dir, 'postgres.log') });
    try {
      await waitFor(() => { try { return localSql(params.unix_socket_directories as string, 5432, 'select 1') === '1'; } catch { return false; } },
        30_000, 200, `PostgreSQL with the ${label} parameters to accept connections`);
      const sock = params.unix_socket_directories as string;
      // No parameter was rejected or ignored.
      expect(localSql(sock, 5432, 'select coalesce(string_agg(name || \': \' || coalesce(error, \'not applied\'), \'; \'), \'\') from pg_file_settings where error is not null or not applied')).toBe('');
      // Read the settings back over TCP: tcp_keepalives_* read 0 on a Unix-socket session.
      localSql(sock, 5432, "alter role postgres password 'profile-check'");
      const tcp = { host: '127.0.0.31', port: 5432, user: 'postgres', password: 'profile-check' };
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

describe('a cluster with a non-default NodeConfig', () => {
  let etcd: EtcdServer;
  let cluster: LoopbackCluster;

  beforeAll(async () => {
    etcd = await startEtcd({ workDir, clientPort: await findFreePort(), peerPort: await findFreePort() });
    const dir = path.join(workDir, 'custom');
    fs.mkdirSync(dir, { recursive: true });
    const file = synthCluster(path.join(dir, 'manifests'), 'pgcustom', {
      replicas: { count: 1 },
      delayedReplicas: { count: 1, applyDelay: Duration.seconds(15) },
      config: {
        database: { name: 'orders', port: 5433 },
        connection: { maxConnections: 50, statementTimeout: Duration.minutes(2) },
        replication: { mode: ReplicationMode.SYNCHRONOUS },
      },
    });
    cluster = new LoopbackCluster({ manifestFile: file, workDir: dir, etcdEndpoint: etcd.endpoint });
    await cluster.startHealthy();
  });

  afterAll(async () => {
    if (cluster) await cluster.shutdown();
  });

  test('every member runs with the configured port, connection limit and timeouts', async () => {
    expect(cluster.memberList().map((m) => `${m.name}:${m.pgPort}`)).toEqual(['pgcustom-primary-0:5433', 'pgcustom-replica-0:5433', 'pgcustom-delayed-0:5433']);
    for (const m of cluster.memberList()) {
      const target = cluster.superuserVia(m.name, 5433);
      expect(await psql(target, 'show port')).toBe('5433');
      expect(await psql(target, 'show max_connections')).toBe('50');
      expect(await psql(target, 'show statement_timeout')).toBe('2min');
    }
  });

  test('the application database was created at bootstrap', async () => {
    const rw = cluster.superuserVia('pgcustom-primary', 5433);
    expect(await psql(rw, "select count(*) from pg_database where datname = 'orders'")).toBe('1');
    expect(await psql({ ...rw, database: 'orders' }, 'select current_database()')).toBe('orders');
  });

  test('synchronous replication: the streaming replica is the synchronous standby, never the delayed one', async () => {
    const rw = cluster.superuserVia('pgcustom-primary', 5433);
    await waitFor(async () => (await psql(rw, "select string_agg(application_name || '=' || sync_state, ',' order by application_name) from pg_stat_replication"))
      === 'pgcustom-delayed-0=async,pgcustom-replica-0=sync', 60_000, 250, 'replica-0 as the synchronous standby');
    const leader = cluster.member('pgcustom-primary-0');
    expect((await getStatus(leader)).json?.role).toMatch(/primary|master/);
  });

  test('the delayed replica replays 15 s behind and is never behind the read-only Service', async () => {
    const delayed = cluster.member('pgcustom-delayed-0');
    expect(await psql(cluster.superuserVia(delayed.name, 5433), 'show recovery_min_apply_delay')).toBe('15s');
    const rw = cluster.superuserVia('pgcustom-primary', 5433);
    await psql(rw, 'create table if not exists marks (note text)');
    const t0 = Date.now();
    await psql(rw, "insert into marks values ('delayed-check')");
    const count = (name: string) => psql(cluster.superuserVia(name, 5433), "select count(*) from marks where note = 'delayed-check'").catch(() => 'no table yet');
    await waitFor(async () => (await count('pgcustom-replica-0')) === '1', 10_000, 100, 'the streaming replica to have the row');
    expect(await count(delayed.name)).not.toBe('1');
    await waitFor(async () => (await count(delayed.name)) === '1', 40_000, 500, 'the delayed replica to replay the row');
    expect((Date.now() - t0) / 1000).toBeGreaterThanOrEqual(15);
    await waitFor(() => cluster.serviceEndpoints('pgcustom-replicas').length > 0, 10_000, 100, 'read-only endpoints');
    expect(cluster.serviceEndpoints('pgcustom-replicas').map((e) => e.name)).toEqual(['pgcustom-replica-0']);
  });
});
