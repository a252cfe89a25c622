/**
 * Backups, run for real with pgBackRest on two repositories: a volume (the backup node's TLS
 * server takes the members' WAL) and S3 (s3rver from npm, behind TLS with its own CA). The init
 * Job creates the stanza and the first full backups, CronJob backups run from the synthesized
 * YAML, and every backup is proven by a restore: a new cluster bootstraps from the latest state,
 * another from a point in time between two write batches, another from S3, and a new replica is
 * created from the repository.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { BackupRepository, FailoverTiming, PostgresClusterProps, RecoveryTarget, S3UriStyle } from '../../src';
import { variantCases } from '../helpers/cases';
import { LoopbackCluster } from './harness/cluster';
import { addHost, removeHostNames } from './harness/hosts';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { startEtcd } from './lib/etcd';
import { makeWorkDir } from './lib/fsutil';
import { findFreePort, httpRequest } from './lib/net';
import { waitForLeader } from './lib/patroni';
import { psql } from './lib/pg';
import { SERVICE_USER, leftoverProcesses, stopAll, waitFor } from './lib/processes';

// s3rver ships no types: its constructor and run()/close() are all the suite uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');

const execFileAsync = promisify(execFile);
const SOURCE = 'pgbk';
let workDir: string;
let etcdEndpoint: string;
let source: LoopbackCluster;
let repoDir: string;
const clusters: LoopbackCluster[] = [];
/** Server time between the two write batches (the point-in-time target). */
let between: Date;

const S3_HOST = 's3.e2e.local';
const S3_IP = '127.0.9.1';
const S3_PORT = 9000;
const S3_BUCKET = 'pgbk-s3';
let s3: any;
let s3Ca: string;
/** The Secrets the user creates before applying: S3 credentials (s3rver's) and the CA of its certificate. */
const userSecrets = () => ({
  's3-credentials': { 'access-key-id': 'S3RVER', 'secret-access-key': 'S3RVER' },
  's3-ca': { 'ca.crt': s3Ca },
});
const refs = new Chart(new App(), 'refs');
const secretRef = (name: string) => (refs.node.tryFindChild(name) as kplus.ISecret | undefined) ?? kplus.Secret.fromSecretName(refs, name, name);
const s3Repository = (schedules?: { full: string }) => BackupRepository.s3({
  bucket: S3_BUCKET,
  region: 'us-east-1',
  endpoint: `${S3_HOST}:${S3_PORT}`,
  uriStyle: S3UriStyle.PATH,
  credentialsSecret: secretRef('s3-credentials'),
  caSecret: secretRef('s3-ca'),
  schedules,
});

const sourceProps = (replicas: number): PostgresClusterProps => ({
  failoverTiming: FailoverTiming.FAST,
  replicas: { count: replicas },
  backup: { repositories: [BackupRepository.volume(), s3Repository({ full: '0 3 * * 0' })] },
});

/** `pgbackrest info` of the S3 repository, read directly from s3rver (asynchronously: s3rver runs in this process). */
async function s3Info(): Promise<any> {
  const { stdout: out } = await execFileAsync('runuser', ['-u', SERVICE_USER, '--', 'pgbackrest', '--config=/dev/null', '--repo1-type=s3',
    `--repo1-s3-bucket=${S3_BUCKET}`, `--repo1-s3-endpoint=${S3_HOST}:${S3_PORT}`, '--repo1-s3-region=us-east-1', '--repo1-s3-uri-style=path',
    `--repo1-storage-ca-file=${path.join(workDir, 's3', 'cert.pem')}`, '--repo1-path=/pgbackrest', `--stanza=${SOURCE}`, '--output=json',
    '--log-level-console=off', 'info'], { encoding: 'utf8', env: { ...process.env, PGBACKREST_REPO1_S3_KEY: 'S3RVER', PGBACKREST_REPO1_S3_KEY_SECRET: 'S3RVER' } });
  return JSON.parse(out)[0];
}

/** `pgbackrest info` of the repository, read directly from the backup node's volume. */
function repoInfo(): any {
  const out = execFileSync('runuser', ['-u', SERVICE_USER, '--', 'pgbackrest', '--config=/dev/null', `--repo1-path=${repoDir}`,
    `--stanza=${SOURCE}`, '--output=json', '--log-level-console=off', 'info'], { encoding: 'utf8' });
  return JSON.parse(out)[0];
}

function du(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

async function runJobTimed(cluster: LoopbackCluster, name: string): Promise<number> {
  const t0 = Date.now();
  const result = await cluster.runJob(name);
  if (result.exitCode !== 0) throw new Error(`${name} exited with ${result.exitCode}:\n${result.log}`);
  return (Date.now() - t0) / 1000;
}

/** Waits until the leader has archived the segment holding everything written so far. */
async function archiveEverything(cluster: LoopbackCluster): Promise<void> {
  const rw = cluster.superuserVia(`${SOURCE}-primary`);
  const segment = await psql(rw, 'select pg_walfile_name(pg_switch_wal())');
  await waitFor(async () => (await psql(rw, 'select last_archived_wal from pg_stat_archiver')) >= segment || undefined,
    60_000, 250, `segment ${segment} to be archived`);
}

beforeAll(async () => {
  workDir = makeWorkDir('pg-e2e-backup');
  const etcd = await startEtcd({ workDir, clientPort: await findFreePort(), peerPort: await findFreePort() });
  etcdEndpoint = etcd.endpoint;
  // An S3-compatible server behind TLS, its certificate signed by itself (the CA the cluster gets in a Secret).
  const s3Dir = path.join(workDir, 's3');
  fs.mkdirSync(path.join(s3Dir, 'data'), { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${S3_HOST}`, '-addext', `subjectAltName=DNS:${S3_HOST}`, '-keyout', path.join(s3Dir, 'key.pem'), '-out', path.join(s3Dir, 'cert.pem')],
  { stdio: 'ignore' });
  fs.chmodSync(workDir, 0o755);
  fs.chmodSync(s3Dir, 0o755);
  fs.chmodSync(path.join(s3Dir, 'cert.pem'), 0o644);
  s3Ca = fs.readFileSync(path.join(s3Dir, 'cert.pem'), 'utf8');
  s3 = new S3rver({
    address: S3_IP,
    port: S3_PORT,
    silent: true,
    directory: path.join(s3Dir, 'data'),
    vhostBuckets: false,
    key: fs.readFileSync(path.join(s3Dir, 'key.pem')),
    cert: s3Ca,
    configureBuckets: [{ name: S3_BUCKET }],
  });
  await s3.run();
  addHost(S3_HOST, S3_IP);
  const dir = path.join(workDir, SOURCE);
  fs.mkdirSync(dir, { recursive: true });
  const file = synthCluster(path.join(dir, 'manifests'), SOURCE, sourceProps(1));
  source = new LoopbackCluster({ manifestFile: file, workDir: dir, etcdEndpoint, userSecrets: userSecrets() });
  clusters.push(source);
  await source.startHealthy();
  repoDir = path.join(source.statefulPods.get(`${SOURCE}-repo-host-0`)!.volumeDir('repo'), 'repo');
});

afterAll(async () => {
  for (const c of clusters.reverse()) await c.shutdown();
  await s3?.close();
  removeHostNames([S3_HOST]);
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
});

test('the init Job creates the stanza and takes the first full backup; WAL reaches the backup node', async () => {
  const seconds = await runJobTimed(source, `${SOURCE}-backup-init-`);
  record('backup.init_job_seconds', Math.round(seconds * 10) / 10);
  const info = repoInfo();
  expect(info.status.code).toBe(0);
  expect(info.backup.map((b: any) => b.type)).toEqual(['full']);
  expect((await s3Info()).backup.map((b: any) => b.type)).toEqual(['full']);
  await archiveEverything(source);
  expect(Number(await psql(source.superuserVia(`${SOURCE}-primary`), 'select archived_count from pg_stat_archiver'))).toBeGreaterThan(0);
  // Running it again changes nothing: the repository already holds a backup.
  const again = await source.runJob(`${SOURCE}-backup-init-`);
  expect(again.exitCode).toBe(0);
  expect(again.log).toMatch(/repo1 already holds 1 backup/);
  expect(again.log).toMatch(/repo2 already holds 1 backup/);
  expect(repoInfo().backup).toHaveLength(1);
});

test('writes, an incremental backup from the CronJob, more writes; the repository holds both backups', async () => {
  const rw = source.superuserVia(`${SOURCE}-primary`);
  await psql(rw, 'create table marks (id int primary key, batch int not null, pad text not null)');
  await psql(rw, "insert into marks select g, 1, repeat('x', 200) from generate_series(1, 20000) g");
  await psql(rw, 'create table big as select g, md5(g::text) as h from generate_series(1, 200000) g');
  const incr = await runJobTimed(source, `${SOURCE}-repo1-incr`);
  record('backup.incremental_seconds', Math.round(incr * 10) / 10);
  // The target lies strictly between the batches, by the server's clock.
  await new Promise((r) => setTimeout(r, 1500));
  between = new Date(await psql(rw, "select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"));
  await new Promise((r) => setTimeout(r, 1500));
  await psql(rw, "insert into marks select g, 2, repeat('y', 200) from generate_series(20001, 30000) g");
  await archiveEverything(source);
  const info = repoInfo();
  expect(info.backup.map((b: any) => b.type)).toEqual(['full', 'incr']);
  const full = await runJobTimed(source, `${SOURCE}-repo1-full`);
  record('backup.full_seconds', Math.round(full * 10) / 10);
  const sets = repoInfo().backup;
  expect(sets.map((b: any) => b.type)).toEqual(['full', 'incr', 'full']);
  const s3Full = await runJobTimed(source, `${SOURCE}-repo2-full`);
  record('backup.s3_full_seconds', Math.round(s3Full * 10) / 10);
  expect((await s3Info()).backup.map((b: any) => b.type)).toEqual(['full', 'full']);
  record('backup.database_bytes', sets[2].info.size);
  record('backup.full_repository_bytes', sets[2].info.repository.delta);
  record('backup.incremental_repository_bytes', sets[1].info.repository.delta);
  record('backup.repository_total_bytes', du(repoDir));
});

/** Starts a cluster restored from the source's repository and returns it and its leader. */
async function restoreInto(
  name: string, subnet: number, target: RecoveryTarget, repository = BackupRepository.volume(),
): Promise<{ cluster: LoopbackCluster; seconds: number }> {
  const dir = path.join(workDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = synthCluster(path.join(dir, 'manifests'), name, {
    failoverTiming: FailoverTiming.FAST,
    replicas: { count: 0 },
    restore: { sourceCluster: SOURCE, repository, target },
  });
  const cluster = new LoopbackCluster({ manifestFile: file, workDir: dir, etcdEndpoint, subnet, neighbours: [source], userSecrets: userSecrets() });
  clusters.push(cluster);
  const t0 = Date.now();
  await cluster.start();
  await waitForLeader(cluster.memberList(), { timeoutMs: 180_000 });
  await cluster.waitUntilReady(120_000);
  return { cluster, seconds: (Date.now() - t0) / 1000 };
}

test('a new cluster restored to the latest state holds every row', async () => {
  const { cluster, seconds } = await restoreInto('pglatest', 1, RecoveryTarget.latest());
  record('backup.restore_latest_to_ready_seconds', Math.round(seconds * 10) / 10);
  const rw = cluster.superuserVia('pglatest-primary');
  expect(await psql(rw, 'select batch || \':\' || count(*) from marks group by batch order by batch')).toBe('1:20000\n2:10000');
  expect(await psql(rw, 'select count(*) from big')).toBe('200000');
  // It took a new timeline and writes; nothing of it went into the source's repository.
  await psql(rw, 'insert into marks values (99999, 9, \'restored\')');
  const history = fs.readdirSync(path.join(repoDir, 'archive', SOURCE)).flatMap((d) =>
    fs.statSync(path.join(repoDir, 'archive', SOURCE, d)).isDirectory() ? fs.readdirSync(path.join(repoDir, 'archive', SOURCE, d)) : []);
  expect(history.filter((f) => f.endsWith('.history'))).toEqual([]);
  await cluster.shutdown();
});

test('a point-in-time restore to a moment between the batches holds exactly the first batch', async () => {
  const { cluster, seconds } = await restoreInto('pgpitr', 2, RecoveryTarget.time(between));
  record('backup.restore_pitr_to_ready_seconds', Math.round(seconds * 10) / 10);
  const rw = cluster.superuserVia('pgpitr-primary');
  expect(await psql(rw, 'select batch || \':\' || count(*) from marks group by batch order by batch')).toBe('1:20000');
  expect(await psql(rw, 'select count(*) from big')).toBe('200000');
  await cluster.shutdown();
});

test('a new cluster restored from S3 to the latest state holds every row', async () => {
  const { cluster, seconds } = await restoreInto('pgfroms3', 3, RecoveryTarget.latest(), s3Repository());
  record('backup.restore_s3_latest_to_ready_seconds', Math.round(seconds * 10) / 10);
  const rw = cluster.superuserVia('pgfroms3-primary');
  expect(await psql(rw, 'select batch || \':\' || count(*) from marks group by batch order by batch')).toBe('1:20000\n2:10000');
  const log = fs.readFileSync(path.join(cluster.member('pgfroms3-primary-0').dir, 'postgres.log'), 'utf8');
  expect(log).toMatch(/restore command begin[^\n]*--repo1-type=s3/);
  await cluster.shutdown();
});

test('a new replica is created from the repository, then streams', async () => {
  const rw = source.superuserVia(`${SOURCE}-primary`);
  await psql(rw, "insert into marks select g, 3, 'after' from generate_series(30001, 30500) g");
  const file = synthCluster(path.join(workDir, SOURCE, 'manifests-3'), SOURCE, sourceProps(2));
  const t0 = Date.now();
  const { started } = await source.apply(file);
  expect(started).toEqual([`${SOURCE}-replica-1`]);
  const replica = source.member(`${SOURCE}-replica-1`);
  await waitFor(async () => {
    const rows = await psql(rw, "select state from pg_stat_replication where application_name = 'pgbk-replica-1'");
    return rows === 'streaming' || undefined;
  }, 120_000, 250, 'the new replica to stream');
  record('backup.replica_from_repository_seconds', Math.round((Date.now() - t0) / 100) / 10);
  const log = fs.readFileSync(path.join(replica.dir, 'postgres.log'), 'utf8');
  // pgBackRest restored the replica from the repository (then it streamed), not pg_basebackup.
  expect(log).toMatch(/restore command begin[\s\S]*repo1: restore backup set \d{8}-\d{6}F[\s\S]*restore command end: completed successfully/);
  expect(log).not.toMatch(/pg_basebackup/);
  const ro = source.superuserVia(replica.name);
  await waitFor(async () => (await psql(ro, 'select count(*) from marks where batch = 3')) === '500' || undefined, 30_000, 250, 'rows written after the backup');
});

test('a failing archive is visible in the leader\'s heartbeat status and metrics, never in its readiness', async () => {
  const leader = (await source.currentLeader())!;
  const status = async () => JSON.parse((await httpRequest({ host: leader.host, port: 8010, path: '/status', timeoutMs: 2000 })).body);
  expect((await status()).archive).toMatchObject({ failing: false, ready_segments: 0 });
  const rw = source.superuserVia(`${SOURCE}-primary`);
  // The backup node goes away: the members' archive-push cannot reach it.
  await source.stop(`${SOURCE}-repo-host-0`);
  const t0 = Date.now();
  await psql(rw, 'select pg_switch_wal() from (select txid_current()) as t');
  const failing = await waitFor(async () => {
    const s = await status();
    return s.archive.failing && s.archive.ready_segments > 0 ? s : undefined;
  }, 180_000, 250, 'the heartbeat to report archiving failing');
  const visible = (Date.now() - t0) / 1000;
  record('backup.archive_failure_visible_seconds', Math.round(visible * 10) / 10);
  // pgBackRest's asynchronous push reports a failure after its archive-timeout (60 s).
  expect(visible).toBeLessThan(90);
  expect(failing.ready).toBe(true);
  expect(await leader.ready()).toBe(true);
  const metrics = (await httpRequest({ host: leader.host, port: 8010, path: '/metrics', timeoutMs: 2000 })).body;
  expect(metrics).toMatch(/^pgc_heartbeat_archive_failing 1$/m);
  expect(metrics).toMatch(/^pgc_heartbeat_archive_ready_segments [1-9]\d*$/m);
  // Back again: the next segment wakes the archiver, and the backlog drains.
  await source.restart(`${SOURCE}-repo-host-0`);
  await psql(rw, 'select pg_switch_wal() from (select txid_current()) as t');
  await waitFor(async () => {
    const s = await status();
    return !s.archive.failing && s.archive.ready_segments === 0 ? s : undefined;
  }, 120_000, 500, 'archiving to recover');
});

/**
 * The options pgBackRest parsed from a file for a command, as its "command begin" log line lists
 * them (`--key=value`, `--key` for a true boolean, secrets as <redacted>).
 */
function parsedOptions(file: string, stanza: string, command: string): string[] {
  const args = [`--config=${file}`, '--log-level-console=info', ...(command === 'server' ? [] : [`--stanza=${stanza}`]), 'help', command];
  const out = execFileSync('pgbackrest', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(out).not.toMatch(/WARN|ERROR/);
  const begin = /command begin [\d.]+: (.*)$/m.exec(out);
  return begin ? begin[1].split(' ').filter((a) => a.startsWith('--')) : [];
}

test.each([
  ['backups to a volume and every object store, encrypted', 'vault'],
  ['restore from S3 with certificates of your own, backups to S3', 'rebuilt'],
  ['restore to a point in time from another cluster, with its own backups', 'orders-clone'],
])('pgBackRest 2.45 takes every option of every rendered file as written (%s)', (caseName, cluster) => {
  const manifests = variantCases().find((c) => c.name === caseName)!.manifests();
  const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === `${cluster}-pgbackrest`)!;
  const commands: Record<string, string[]> = {
    'member.conf': ['archive-push', 'archive-get', 'restore', 'server', 'check'],
    'job.conf': ['backup', 'stanza-create'],
    'repo-host.conf': ['server', 'backup'],
    'source.conf': ['restore', 'archive-get'],
  };
  const dir = fs.mkdtempSync(path.join(workDir, 'conf-'));
  let checked = 0;
  for (const [key, text] of Object.entries(cm.data as Record<string, string>)) {
    const file = path.join(dir, key);
    fs.writeFileSync(file, text);
    const stanza = /^\[(?!global\])([^\]]+)\]$/m.exec(text)![1];
    const parsed = new Set(commands[key].flatMap((cmd) => parsedOptions(file, stanza, cmd)));
    for (const line of text.split('\n')) {
      const kv = /^([\w-]+)=(.*)$/.exec(line);
      if (!kv) continue;
      const [, option, value] = kv;
      const forms = [`--${option}=${value}`, `--${option}=<redacted>`, ...(value === 'y' ? [`--${option}`] : [])];
      expect([key, option, forms.some((f) => parsed.has(f))]).toEqual([key, option, true]);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(20);
});

