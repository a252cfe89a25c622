/**
 * Backups on real Kubernetes, with pgBackRest on two repositories: a volume (the backup node's
 * StatefulSet runs pgBackRest's TLS server and takes the members' WAL) and S3 (s3rver from npm,
 * behind TLS with its own CA, a host process on the bridge address behind a Service without
 * selector). The synthesized YAML is applied with server-side apply; the Job controller runs the
 * init Job, CronJobs are triggered as an operator does (`kubectl create job --from=cronjob/...`)
 * and one scheduled run fires by itself. Every backup is proven by a restore: new clusters in the
 * same namespace bootstrap from the latest state, from a point in time between two write
 * batches, and from S3; a replica whose volume claim was deleted is rebuilt from the repository.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { BackupRepository, BackupSchedules, FailoverTiming, PostgresClusterProps, RecoveryTarget, S3UriStyle } from '../../src';
import { variantCases } from '../helpers/cases';
import { KubeCluster, KubePostgres, Obj, psqlConnecting } from './harness/kube';
import {
  BRIDGE_ADDRESS, S3Server, claimHostPath, commandMillis, containerLog, hostServiceManifests, pgbackrestInfo,
  startS3Server, waitForJob,
} from './harness/kube-backup';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir } from './lib/fsutil';
import { httpRequest } from './lib/net';
import { PgTarget, psql } from './lib/pg';
import { waitFor } from './lib/processes';

/** Namespaces of this run get a suffix, so a cluster left running by an earlier run cannot answer for this one. */
const RUN = Date.now().toString(36).slice(-5);
const NS = `bk-${RUN}`;
const SOURCE = 'pgbk';
const S3_BUCKET = 'pgbk-s3';
const S3_SERVICE = 's3';
const S3_HOST = `${S3_SERVICE}.${NS}.svc`;
let kube: KubeCluster;
let workDir: string;
let s3: S3Server;
let pg: KubePostgres;
let rw: PgTarget;
let sourceFile: string;
let repoDir: string;
/** Server time between the two write batches (the point-in-time target). */
let between: Date;

const refs = new Chart(new App(), 'refs');
const secretRef = (name: string) => (refs.node.tryFindChild(name) as kplus.ISecret | undefined) ?? kplus.Secret.fromSecretName(refs, name, name);
const s3Repository = (schedules?: BackupSchedules) => BackupRepository.s3({
  bucket: S3_BUCKET,
  region: 'us-east-1',
  endpoint: `${S3_HOST}:443`,
  uriStyle: S3UriStyle.PATH,
  credentialsSecret: secretRef('s3-credentials'),
  caSecret: secretRef('s3-ca'),
  schedules,
});

const sourceProps = (schedules?: BackupSchedules): PostgresClusterProps => ({
  failoverTiming: FailoverTiming.FAST,
  replicas: { count: 1 },
  backup: { repositories: [BackupRepository.volume(), s3Repository({ full: '0 3 * * 0' })], schedules },
});

const round = (v: number) => Math.round(v * 10) / 10;

/** `pgbackrest info` of the volume repository, read on the host from the backup node's PersistentVolume. */
const repoInfo = (stanza = SOURCE) => pgbackrestInfo(stanza, [`--repo1-path=${repoDir}`]);

/**
 * `pgbackrest info` of the S3 repository, read from the host at the bridge address. The pods
 * verify the server by its Service name; the host cannot resolve that name and pgBackRest checks
 * DNS names only (not an IP in the certificate), so this read alone does not verify it.
 */
const s3Info = () => pgbackrestInfo(SOURCE, ['--repo1-type=s3', `--repo1-s3-bucket=${S3_BUCKET}`, `--repo1-s3-endpoint=${BRIDGE_ADDRESS}`,
  `--repo1-storage-port=${s3.port}`, '--repo1-s3-region=us-east-1', '--repo1-s3-uri-style=path', '--repo1-storage-verify-tls=n',
  '--repo1-path=/pgbackrest'], { PGBACKREST_REPO1_S3_KEY: 'S3RVER', PGBACKREST_REPO1_S3_KEY_SECRET: 'S3RVER' });

/**
 * Switches to a new WAL segment and waits until everything written so far is archived: the
 * leader has no segment or backup history file up to the switched one still marked .ready, and
 * the volume repository holds the segment. (pg_stat_archiver.last_archived_wal is the file
 * archived last, not the highest: a backup's history file, named after the backup's start
 * segment, may be archived after the stop segment, so it cannot be compared with a segment name.)
 */
async function archiveEverything(): Promise<string> {
  const segment = await psql(rw, 'select pg_walfile_name(pg_switch_wal())');
  await waitFor(async () => {
    const pending = await psql(rw, `select count(*) from pg_ls_archive_statusdir() where name like '%.ready' and name <= '${segment}.ready'`);
    const max = (await repoInfo()).archive?.[0]?.max ?? '';
    return (pending === '0' && max >= segment) || undefined;
  }, 90_000, 250, `segment ${segment} to be archived into the volume repository`);
  return segment;
}

/**
 * Commits a transaction that writes WAL, then switches segments: the switch completes a segment
 * the archiver must push. (A switch in the same statement as txid_current() runs before the
 * commit record is written: right after another switch it finds an empty segment and does
 * nothing, and the commit then waits in the next segment for archive_timeout.)
 */
async function writeAndSwitch(): Promise<string> {
  return psql(rw, 'select txid_current(); select pg_walfile_name(pg_switch_wal())');
}

/** The init Job of the source (its name carries a hash of its template). */
async function initJobName(): Promise<string> {
  const docs = fs.readFileSync(sourceFile, 'utf8');
  return /name: (pgbk-backup-init-[0-9a-f]{8})/.exec(docs)![1];
}

/** An operator's backup: a Job from the CronJob's template, waited for; wall time and pgBackRest's own time of the backup. */
async function backupFromCronJob(cronJob: string, job: string): Promise<{ seconds: number; backupSeconds: number }> {
  const t0 = Date.now();
  await kube.kubectl(['create', 'job', '-n', NS, `--from=cronjob/${cronJob}`, job]);
  const result = await waitForJob(kube, NS, job, t0);
  const ms = commandMillis(result.log, 'backup');
  expect(ms).toHaveLength(1);
  return { seconds: result.seconds, backupSeconds: ms[0] / 1000 };
}

beforeAll(async () => {
  workDir = makeWorkDir('pg-kube-backup');
  kube = KubeCluster.up();
  await kube.createNamespace(NS);
  s3 = await startS3Server(path.join(workDir, 's3'), S3_BUCKET, [S3_HOST, `${S3_HOST}.cluster.local`]);
  await kube.kubectl(['apply', '--server-side', '--field-manager=cdk8s-e2e', '-n', NS, '-f', '-'], hostServiceManifests(S3_SERVICE, 443, s3.port));
  // The Secrets the user creates before applying: S3 credentials (s3rver's) and the CA of its certificate.
  await kube.kubectl(['create', 'secret', 'generic', '-n', NS, 's3-credentials', '--from-literal=access-key-id=S3RVER', '--from-literal=secret-access-key=S3RVER']);
  await kube.kubectl(['create', 'secret', 'generic', '-n', NS, 's3-ca', `--from-file=ca.crt=${s3.caFile}`]);
  sourceFile = synthCluster(path.join(workDir, SOURCE), SOURCE, sourceProps());
  await kube.apply(sourceFile, NS);
  pg = new KubePostgres(kube, NS, SOURCE);
  await pg.waitHealthy(2);
  rw = await pg.superuserVia(`${SOURCE}-primary`);
  repoDir = path.join(await claimHostPath(kube, NS, `repo-${SOURCE}-repo-host-0`), 'repo');
});

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  await s3?.stop();
  kube?.down();
});

test('the init Job creates the stanza and takes the first full backups; WAL reaches the backup node', async () => {
  const name = await initJobName();
  const init = await waitForJob(kube, NS, name);
  // The Job starts with the cluster: its stanza-create waits until the leader's pgBackRest server
  // answers. pgBackRest's own time of the two full backups, and the Job's whole run.
  const ms = commandMillis(init.log, 'backup');
  expect(ms).toHaveLength(2);
  record('backup.kube_init_full_backups_pgbackrest_seconds', ms.map((v) => round(v / 1000)));
  record('backup.kube_init_job_seconds', (Date.parse(init.job.status.completionTime) - Date.parse(init.job.status.startTime)) / 1000);
  expect(init.log).toMatch(/backup-init: first full backup into repo1/);
  expect(init.log).toMatch(/backup-init: first full backup into repo2/);
  const info = await repoInfo();
  expect(info.status.code).toBe(0);
  expect(info.backup.map((b: any) => b.type)).toEqual(['full']);
  expect((await s3Info()).backup.map((b: any) => b.type)).toEqual(['full']);
  await archiveEverything();
  expect(Number(await psql(rw, 'select archived_count from pg_stat_archiver'))).toBeGreaterThan(0);
  // Applied again after it is gone (as after its TTL), it runs again and changes nothing.
  await kube.kubectl(['delete', 'job', '-n', NS, name, '--wait=true']);
  await kube.apply(sourceFile, NS);
  const again = await waitForJob(kube, NS, name);
  expect(again.job.metadata.uid).not.toBe(init.job.metadata.uid);
  expect(again.log).toMatch(/repo1 already holds 1 backup/);
  expect(again.log).toMatch(/repo2 already holds 1 backup/);
  expect((await repoInfo()).backup).toHaveLength(1);
});

test('writes, an incremental backup fired by the CronJob controller on its schedule, more writes; full backups by operators', async () => {
  await psql(rw, 'create table marks (id int primary key, batch int not null, pad text not null)');
  await psql(rw, "insert into marks select g, 1, repeat('x', 200) from generate_series(1, 20000) g");
  await psql(rw, 'create table big as select g, md5(g::text) as h from generate_series(1, 200000) g');
  // A schedule a minute away: the incremental CronJob of repo1 at the next whole minute at least
  // 20 s ahead (UTC), re-applied; the CronJob controller must create the Job by itself.
  const at = new Date(Math.ceil((Date.now() + 20_000) / 60_000) * 60_000);
  const schedule = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
  await kube.apply(synthCluster(path.join(workDir, `${SOURCE}-scheduled`), SOURCE,
    sourceProps({ full: '0 1 * * 0', incremental: schedule, timeZone: 'Etc/UTC' })), NS);
  expect((await kube.get('cronjob', `${SOURCE}-repo1-incr`, NS)).spec.schedule).toBe(schedule);
  const fired = await kube.until('the CronJob controller to create the scheduled Job', at.getTime() - Date.now() + 60_000, async () =>
    (await kube.list('jobs', NS)).find((j) => j.metadata.ownerReferences?.some((o: any) => o.kind === 'CronJob' && o.name === `${SOURCE}-repo1-incr`)), 500);
  const created = Date.parse(fired.metadata.creationTimestamp);
  expect(created).toBeGreaterThanOrEqual(at.getTime());
  record('backup.kube_cronjob_fired_after_schedule_seconds', (created - at.getTime()) / 1000);
  const incr = await waitForJob(kube, NS, fired.metadata.name, created);
  const cron = await kube.get('cronjob', `${SOURCE}-repo1-incr`, NS);
  expect(Date.parse(cron.status.lastSuccessfulTime)).toBeGreaterThanOrEqual(at.getTime());
  record('backup.kube_incremental_seconds', round(incr.seconds));
  record('backup.kube_incremental_pgbackrest_seconds', round(commandMillis(incr.log, 'backup')[0] / 1000));
  expect((await repoInfo()).backup.map((b: any) => b.type)).toEqual(['full', 'incr']);
  // The target lies strictly between the batches, by the server's clock.
  await new Promise((r) => setTimeout(r, 1500));
  between = new Date(await psql(rw, "select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"));
  await new Promise((r) => setTimeout(r, 1500));
  await psql(rw, "insert into marks select g, 2, repeat('y', 200) from generate_series(20001, 30000) g");
  await archiveEverything();
  const full = await backupFromCronJob(`${SOURCE}-repo1-full`, `${SOURCE}-full-by-hand`);
  record('backup.kube_full_seconds', round(full.seconds));
  record('backup.kube_full_pgbackrest_seconds', round(full.backupSeconds));
  const sets = (await repoInfo()).backup;
  expect(sets.map((b: any) => b.type)).toEqual(['full', 'incr', 'full']);
  const s3Full = await backupFromCronJob(`${SOURCE}-repo2-full`, `${SOURCE}-s3-full-by-hand`);
  record('backup.kube_s3_full_seconds', round(s3Full.seconds));
  record('backup.kube_s3_full_pgbackrest_seconds', round(s3Full.backupSeconds));
  expect((await s3Info()).backup.map((b: any) => b.type)).toEqual(['full', 'full']);
  record('backup.kube_database_bytes', sets[2].info.size);
  record('backup.kube_full_repository_bytes', sets[2].info.repository.delta);
  record('backup.kube_incremental_repository_bytes', sets[1].info.repository.delta);
  record('backup.kube_repository_total_bytes', Number(execFileSync('du', ['-sb', repoDir], { encoding: 'utf8' }).split('\t')[0]));
});

/** Applies a cluster restored from the source's repository into the same namespace; waits until its leader is healthy. */
async function restoreInto(name: string, target: RecoveryTarget, repository = BackupRepository.volume()) {
  const file = synthCluster(path.join(workDir, name), name, {
    failoverTiming: FailoverTiming.FAST,
    replicas: { count: 0 },
    restore: { sourceCluster: SOURCE, repository, target },
  });
  const t0 = Date.now();
  await kube.apply(file, NS);
  const restored = new KubePostgres(kube, NS, name);
  const leader = await restored.waitHealthy(1, 300_000);
  const seconds = (Date.now() - t0) / 1000;
  const log = containerLog(kube, NS, leader, 'postgres');
  const restoreMs = commandMillis(log, 'restore');
  expect(restoreMs).toHaveLength(1);
  return { file, leader, log, seconds, restoreSeconds: restoreMs[0] / 1000, rw: await restored.superuserVia(`${name}-primary`) };
}

/** Removes a restored cluster's objects (the namespace goes at the end anyway; this frees the two shared cores). */
async function remove(file: string): Promise<void> {
  await kube.kubectl(['delete', '-n', NS, '-f', file, '--wait=false', '--ignore-not-found']);
}

const batches = (target: PgTarget) => psqlConnecting(target, 'select batch || \':\' || count(*) from marks group by batch order by batch');

test('a new cluster in the same namespace restored to the latest state holds every row', async () => {
  const r = await restoreInto('pglatest', RecoveryTarget.latest());
  record('backup.kube_restore_latest_to_healthy_seconds', round(r.seconds));
  record('backup.kube_restore_latest_pgbackrest_seconds', round(r.restoreSeconds));
  expect(r.log).toMatch(/restore command begin[^\n]*--repo1-host=pgbk-repo-host-0\.pgbk-repo-host/);
  expect(await batches(r.rw)).toBe('1:20000\n2:10000');
  expect(await psql(r.rw, 'select count(*) from big')).toBe('200000');
  // It took a new timeline and writes; nothing of it went into the source's repository.
  await psql(r.rw, 'insert into marks values (99999, 9, \'restored\')');
  expect(await psql(r.rw, 'select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)')).not.toBe('00000001');
  // Every file of the source's WAL archive (archive/<stanza>/<version-id>/[<timeline+log>/]<file>).
  const walk = (dir: string): string[] => fs.readdirSync(dir)
    .flatMap((f) => (fs.statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [f]));
  const files = walk(path.join(repoDir, 'archive', SOURCE));
  expect(files.length).toBeGreaterThan(0);
  expect(files.filter((f) => f.endsWith('.history'))).toEqual([]);
  await remove(r.file);
});

test('a point-in-time restore to a moment between the batches holds exactly the first batch', async () => {
  const r = await restoreInto('pgpitr', RecoveryTarget.time(between));
  record('backup.kube_restore_pitr_to_healthy_seconds', round(r.seconds));
  expect(await batches(r.rw)).toBe('1:20000');
  expect(await psql(r.rw, 'select count(*) from big')).toBe('200000');
  await remove(r.file);
});

test('a new cluster restored from S3 to the latest state holds every row', async () => {
  const r = await restoreInto('pgfroms3', RecoveryTarget.latest(), s3Repository());
  record('backup.kube_restore_s3_latest_to_healthy_seconds', round(r.seconds));
  expect(r.log).toMatch(/restore command begin[^\n]*--repo1-type=s3/);
  expect(await batches(r.rw)).toBe('1:20000\n2:10000');
  await remove(r.file);
});

test('a replica whose volume claim is deleted is rebuilt from the repository by the StatefulSet controller, then streams', async () => {
  await psql(rw, "insert into marks select g, 3, 'after' from generate_series(30001, 30500) g");
  const leader = (await pg.labelledLeader())!;
  const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  const claim = replica.spec.volumes.find((v: any) => v.persistentVolumeClaim)!.persistentVolumeClaim.claimName as string;
  const oldClaim = await kube.get('pvc', claim, NS);
  const t0 = Date.now();
  // The claim is protected while its pod runs: it goes once the pod is deleted, and the
  // StatefulSet controller creates both again from the volumeClaimTemplate.
  await kube.kubectl(['delete', 'pvc', '-n', NS, claim, '--wait=false']);
  await kube.kubectl(['delete', 'pod', '-n', NS, replica.metadata.name, '--wait=false']);
  const fresh = await kube.until(`${replica.metadata.name} recreated on a new claim`, 180_000, async () => {
    const p = await kube.getOptional('pod', replica.metadata.name, NS);
    const c = await kube.getOptional('pvc', claim, NS);
    return p && p.metadata.uid !== replica.metadata.uid && c && c.metadata.uid !== oldClaim.metadata.uid && c.status?.phase === 'Bound' ? p : undefined;
  }, 500);
  await waitFor(async () => {
    const rows = await psql(rw, `select state from pg_stat_replication where application_name = '${replica.metadata.name}'`);
    return rows === 'streaming' || undefined;
  }, 240_000, 250, 'the rebuilt replica to stream');
  record('backup.kube_replica_from_repository_seconds', round((Date.now() - t0) / 1000));
  const log = containerLog(kube, NS, fresh, 'postgres');
  // pgBackRest restored the replica from the repository (then it streamed), not pg_basebackup.
  expect(log).toMatch(/restore command begin[\s\S]*repo1: restore backup set \d{8}-\d{6}F[\s\S]*restore command end: completed successfully/);
  expect(log).not.toMatch(/pg_basebackup/);
  const ro = await pg.superuserAt(await kube.get('pod', fresh.metadata.name, NS));
  await waitFor(async () => (await psql(ro, 'select count(*) from marks where batch = 3')) === '500' || undefined, 30_000, 250, 'rows written after the backup');
  await pg.waitHealthy(2);
});

test('a failing archive is visible in the leader\'s heartbeat status and metrics, never in its readiness', async () => {
  const leader = (await pg.labelledLeader())!;
  const heartbeat = (p: string) => httpRequest({ host: leader.status.podIP, port: 8010, path: p, timeoutMs: 2000 });
  const status = async () => JSON.parse((await heartbeat('/status')).body);
  await archiveEverything();
  await waitFor(async () => {
    const a = (await status()).archive;
    return (a.failing === false && a.ready_segments === 0) || undefined;
  }, 30_000, 250, 'the heartbeat to report nothing waiting');
  // The backup node goes away: the members' archive-push cannot reach it.
  await kube.kubectl(['scale', 'statefulset', '-n', NS, `${SOURCE}-repo-host`, '--replicas=0']);
  await kube.until('the backup node gone', 120_000, async () => (await kube.getOptional('pod', `${SOURCE}-repo-host-0`, NS)) === undefined, 500);
  const t0 = Date.now();
  await writeAndSwitch();
  const failing = await waitFor(async () => {
    const s = await status();
    return s.archive.failing && s.archive.ready_segments > 0 ? s : undefined;
  }, 180_000, 250, 'the heartbeat to report archiving failing');
  const visible = (Date.now() - t0) / 1000;
  record('backup.kube_archive_failure_visible_seconds', round(visible));
  expect(visible).toBeLessThan(90);
  expect(failing.ready).toBe(true);
  expect((await heartbeat('/ready')).status).toBe(200);
  const pod: Obj = await kube.get('pod', leader.metadata.name, NS);
  expect(KubeCluster.isReady(pod)).toBe(true);
  expect(await kube.readyEndpoints(`${SOURCE}-primary`, NS)).toEqual([leader.status.podIP]);
  const metrics = (await heartbeat('/metrics')).body;
  expect(metrics).toMatch(/^pgc_heartbeat_archive_failing 1$/m);
  expect(metrics).toMatch(/^pgc_heartbeat_archive_ready_segments [1-9]\d*$/m);
  // Back again: the next segment wakes the archiver, and the backlog drains.
  await kube.kubectl(['scale', 'statefulset', '-n', NS, `${SOURCE}-repo-host`, '--replicas=1']);
  await kube.until('the backup node Ready again', 120_000, async () => {
    const p = await kube.getOptional('pod', `${SOURCE}-repo-host-0`, NS);
    return p !== undefined && KubeCluster.isReady(p);
  }, 500);
  const t1 = Date.now();
  await writeAndSwitch();
  await archiveEverything();
  await waitFor(async () => {
    const s = await status();
    return !s.archive.failing && s.archive.ready_segments === 0 && Date.parse(s.checked_at) > t1 ? s : undefined;
  }, 120_000, 500, 'the heartbeat to report archiving recovered');
  record('backup.kube_archive_recovered_seconds', round((Date.now() - t1) / 1000));
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
