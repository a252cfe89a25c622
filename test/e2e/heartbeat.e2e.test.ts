/**
 * The heartbeat sidecar program next to a real PostgreSQL 15 primary and a streaming replica on
 * loopback (no Patroni): both members turn ready, the leader lists the replica with its lag, a
 * replica whose replay is paused turns unready with a lag reason and ready again once it
 * resumes, while the leader stays ready, and a replica whose primary is gone reports
 * `primary unreachable`. The detection and recovery times are measured and printed.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { HOST_BIN_DIR } from './harness/differences';
import { makeServiceDir, makeWorkDir, writeServiceFile } from './lib/fsutil';
import { httpRequest } from './lib/net';
import { ProcessGroup, SERVICE_USER, killAndWait, leftoverProcesses, spawnGroup, stopAll, terminateGroup, waitFor } from './lib/processes';
import { HEARTBEAT_SCRIPT } from '../../src/render/heartbeat';

const PRIMARY_IP = '127.0.0.51';
const REPLICA_IP = '127.0.0.52';
const PG_PORT = 5432;
const HB_PORT = 8010;
const INTERVAL_S = 1;
const THRESHOLD = 3;
const MAX_LAG_S = 5;
const MAX_LAG_BYTES = 1024 * 1024;
/** Scheduling and polling slack added to every expected bound. */
const SLACK_S = 4;
const REPLICATION_PASSWORD = 'heartbeat-e2e-replication';
const REPLICA_NAME = 'replica-52';

/** Body of GET /status. */
interface HeartbeatStatus {
  readonly role: string;
  readonly ready: boolean;
  readonly reason: string;
  readonly checked_at: string | null;
  readonly heartbeat_age_seconds: number | null;
  readonly lag_bytes: number | null;
  readonly streaming: boolean | null;
  readonly replay_paused: boolean | null;
  readonly replicas: Array<{
    application_name: string; client_addr: string | null; state: string; sync_state: string; lag_bytes: number | null; lag_seconds: number | null;
  }>;
  readonly consecutive_failures: number;
}

interface Member {
  readonly ip: string;
  /** Unix socket directory (PGHOST of the sidecar), set up in beforeAll. */
  socketDir: string;
  server?: ProcessGroup;
  heartbeat?: ProcessGroup;
}

let workDir: string;
let script: string;
const primary: Member = { ip: PRIMARY_IP, socketDir: '' };
const replica: Member = { ip: REPLICA_IP, socketDir: '' };
/** Measured times, printed at the end. */
const measured: Record<string, string> = {};

/** Runs a PostgreSQL client program as the service user. */
function asService(program: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('setpriv', [`--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--init-groups', '--', `${HOST_BIN_DIR}/${program}`, ...args],
    { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** SQL as the superuser over the member's Unix socket (peer authentication). */
function localSql(member: Member, sql: string): string {
  return asService('psql', ['-X', '-A', '-t', '-q', '-h', member.socketDir, '-p', String(PG_PORT), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
}

function startPostgres(member: Member, name: string, dataDir: string, extra: string[] = []): ProcessGroup {
  return spawnGroup({
    name,
    command: `${HOST_BIN_DIR}/postgres`,
    args: ['-D', dataDir, '-c', `listen_addresses=${member.ip}`, '-c', `port=${PG_PORT}`, '-c', `unix_socket_directories=${member.socketDir}`,
      '-c', 'wal_level=replica', '-c', 'max_wal_senders=5', '-c', 'hot_standby=on', '-c', 'password_encryption=scram-sha-256', ...extra],
    logFile: path.join(workDir, `${name}.log`),
  });
}

function startHeartbeat(member: Member, name: string): ProcessGroup {
  return spawnGroup({
    name,
    command: '/usr/bin/python3',
    args: [script],
    env: {
      PGHOST: member.socketDir,
      PGPORT: String(PG_PORT),
      PGUSER: 'postgres',
      HB_PORT: String(HB_PORT),
      HB_LISTEN: member.ip,
      HB_INTERVAL_SECONDS: String(INTERVAL_S),
      HB_TIMEOUT_SECONDS: '2',
      HB_FAILURE_THRESHOLD: String(THRESHOLD),
      HB_MAX_LAG_SECONDS: String(MAX_LAG_S),
      HB_MAX_LAG_BYTES: String(MAX_LAG_BYTES),
    },
    cwd: '/',
    logFile: path.join(workDir, `${name}.log`),
  });
}

async function get(member: Member, urlPath: string) {
  return httpRequest({ host: member.ip, port: HB_PORT, path: urlPath, timeoutMs: 2_000 });
}

async function status(member: Member): Promise<HeartbeatStatus> {
  return JSON.parse((await get(member, '/status')).body) as HeartbeatStatus;
}

/** Waits until GET /ready answers `code` with a (trimmed) body matching `reason`; returns the seconds it took since `since`. */
async function waitForReady(member: Member, code: 200 | 503, reason: RegExp, since: number, timeoutS: number): Promise<number> {
  await waitFor(async () => {
    const res = await get(member, '/ready');
    return res.status === code && reason.test(res.body.trim());
  }, timeoutS * 1000, 100, `${member.ip} /ready ${code} matching ${reason}`);
  return (Date.now() - since) / 1000;
}

/** Prometheus text format: every sample line `name{labels} value`, every family with HELP and TYPE. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const lines = text.trimEnd().split('\n');
  const described = new Set(lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]));
  for (const line of lines) {
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# (HELP \w+ .+|TYPE \w+ (gauge|counter))$/);
      continue;
    }
    const m = /^([a-zA-Z_:][\w:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line);
    expect({ line, valid: m !== null && Number.isFinite(Number(m[3])) }).toEqual({ line, valid: true });
    expect(described).toContain(m![1]);
    samples.set(m![1] + (m![2] ?? ''), Number(m![3]));
  }
  return samples;
}

beforeAll(async () => {
  workDir = makeWorkDir('pg-e2e-heartbeat');
  script = writeServiceFile(path.join(workDir, 'heartbeat.py'), HEARTBEAT_SCRIPT, 0o444);
  primary.socketDir = makeServiceDir(path.join(workDir, 'primary-sock'));
  replica.socketDir = makeServiceDir(path.join(workDir, 'replica-sock'));

  const primaryData = path.join(workDir, 'primary-data');
  asService('initdb', ['-D', primaryData, '-U', 'postgres', '-E', 'UTF8', '--auth-local=peer', '--auth-host=scram-sha-256']);
  writeServiceFile(path.join(primaryData, 'pg_hba.conf'), [
    'local all all peer',
    'host replication replicator 127.0.0.0/8 scram-sha-256',
    'host all all 127.0.0.0/8 scram-sha-256',
  ].join('\n') + '\n');
  primary.server = startPostgres(primary, 'pg-primary', primaryData);
  await waitFor(() => localSql(primary, 'select 1') === '1', 30_000, 200, 'the primary to accept connections');
  localSql(primary, `create role replicator login replication password '${REPLICATION_PASSWORD}'`);

  const replicaData = path.join(workDir, 'replica-data');
  asService('pg_basebackup', ['-h', PRIMARY_IP, '-p', String(PG_PORT), '-U', 'replicator', '-D', replicaData, '-R', '-X', 'stream', '-c', 'fast'],
    { PGPASSWORD: REPLICATION_PASSWORD });
  replica.server = startPostgres(replica, 'pg-replica', replicaData, ['-c', `cluster_name=${REPLICA_NAME}`]);
  await waitFor(() => localSql(replica, 'select pg_is_in_recovery()') === 't', 30_000, 200, 'the replica to accept connections');

  primary.heartbeat = startHeartbeat(primary, 'heartbeat-primary');
  replica.heartbeat = startHeartbeat(replica, 'heartbeat-replica');
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line no-console
  console.log(`heartbeat timings (interval ${INTERVAL_S} s, threshold ${THRESHOLD}, max lag ${MAX_LAG_S} s / ${MAX_LAG_BYTES} B):\n`
    + Object.entries(measured).map(([k, v]) => `  ${k}: ${v}`).join('\n') + `\n  logs: ${workDir}`);
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
});

test('both members turn ready; the leader lists the streaming replica with its lag', async () => {
  await waitForReady(primary, 200, /^ok$/, Date.now(), 20);
  await waitForReady(replica, 200, /^ok$/, Date.now(), 20);
  const leader = await waitFor(async () => {
    const s = await status(primary);
    return s.replicas.some((r) => r.application_name === REPLICA_NAME && r.state === 'streaming' && r.lag_bytes !== null && r.lag_seconds !== null) && s;
  }, 10_000, 200, `the leader to list ${REPLICA_NAME} streaming with its lag`);
  expect(leader).toMatchObject({ role: 'leader', ready: true, reason: 'ok', consecutive_failures: 0, lag_bytes: null });
  // libpq cannot choose its source address: the replica connects from 127.0.0.1.
  expect(leader.replicas).toEqual([expect.objectContaining({ application_name: REPLICA_NAME, client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async' })]);
  expect(leader.replicas[0].lag_bytes).toBeGreaterThanOrEqual(0);
  expect(leader.replicas[0].lag_seconds).toBeGreaterThanOrEqual(0);

  const standby = await status(replica);
  expect(standby).toMatchObject({ role: 'replica', ready: true, reason: 'ok', streaming: true, replay_paused: false, replicas: [], consecutive_failures: 0 });
  expect(standby.heartbeat_age_seconds).toBeLessThan(MAX_LAG_S);
  expect(standby.lag_bytes).toBeLessThanOrEqual(MAX_LAG_BYTES);
  // The heartbeat row the leader writes is what the replica reads.
  expect(localSql(primary, 'select count(*) from cdk8s_heartbeat.beat where id = 1 and lsn is not null')).toBe('1');
  expect(new Date(standby.checked_at!).getTime()).toBeGreaterThan(Date.now() - 5_000);
});

test('/metrics is valid Prometheus text on both members', async () => {
  const leader = parseMetrics((await get(primary, '/metrics')).body);
  expect(leader.get('pgc_heartbeat_ready')).toBe(1);
  expect(leader.get('pgc_heartbeat_is_leader')).toBe(1);
  expect(leader.get(`pgc_heartbeat_replica_lag_bytes{application_name="${REPLICA_NAME}",client_addr="127.0.0.1"}`)).toBeGreaterThanOrEqual(0);
  expect(leader.get(`pgc_heartbeat_replica_lag_seconds{application_name="${REPLICA_NAME}",client_addr="127.0.0.1"}`)).toBeGreaterThanOrEqual(0);
  expect(leader.get('pgc_heartbeat_check_failures_total')).toBe(0);

  const standby = parseMetrics((await get(replica, '/metrics')).body);
  expect(standby.get('pgc_heartbeat_ready')).toBe(1);
  expect(standby.get('pgc_heartbeat_is_leader')).toBe(0);
  expect(standby.get('pgc_heartbeat_streaming')).toBe(1);
  expect(standby.get('pgc_heartbeat_age_seconds')).toBeLessThan(MAX_LAG_S);
  expect(standby.get('pgc_heartbeat_lag_bytes')).toBeGreaterThanOrEqual(0);
  // Counts the checks made before the leader's first heartbeat was replicated, if any.
  expect(standby.get('pgc_heartbeat_check_failures_total')).toBeGreaterThanOrEqual(0);
});

test('a replica whose replay is paused turns unready at once (its own replay, not the leader\'s heartbeat, decides), ready again on resume; the leader stays ready', async () => {
  // Watch the leader's /ready throughout.
  const leaderAnswers: number[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      leaderAnswers.push((await get(primary, '/ready').catch(() => ({ status: 0 }))).status);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    const pausedAt = Date.now();
    localSql(replica, 'select pg_wal_replay_pause()');
    localSql(primary, 'create table notes (note text); insert into notes values (\'written while the replica is paused\')');
    // A small write: the pause itself is the reason, within the failure threshold.
    const detection = await waitForReady(replica, 503, /replay is paused \(pg_wal_replay_pause\)/, pausedAt, THRESHOLD * INTERVAL_S + MAX_LAG_S + SLACK_S);
    measured['paused replay detected (from pg_wal_replay_pause)'] = `${detection.toFixed(1)} s`;
    expect(detection).toBeLessThanOrEqual(THRESHOLD * INTERVAL_S + SLACK_S);
    const paused = await status(replica);
    expect(paused).toMatchObject({ role: 'replica', ready: false, streaming: true, replay_paused: true });
    expect(paused.consecutive_failures).toBeGreaterThanOrEqual(THRESHOLD);

    // Over 1 MiB of WAL the replica receives but does not replay: the byte limit trips too.
    localSql(primary, 'insert into notes select repeat(md5(g::text), 40) from generate_series(1, 2000) g');
    const bytesAt = Date.now();
    await waitFor(async () => /lag \d+ bytes > max 1048576 bytes \(WAL not replayed\)/.test((await get(replica, '/ready')).body),
      (2 * INTERVAL_S + SLACK_S) * 1000, 100, 'the byte limit in the replica\'s reason');
    measured['byte lag reported'] = `${((Date.now() - bytesAt) / 1000).toFixed(1)} s after the write`;
    expect((await status(replica)).lag_bytes).toBeGreaterThan(MAX_LAG_BYTES);

    const resumedAt = Date.now();
    localSql(replica, 'select pg_wal_replay_resume()');
    const recovery = await waitForReady(replica, 200, /^ok$/, resumedAt, 2 * INTERVAL_S + SLACK_S);
    measured['ready again (from pg_wal_replay_resume)'] = `${recovery.toFixed(1)} s`;
    expect(localSql(replica, 'select count(*) from notes')).toBe('2001');
  } finally {
    watching = false;
    await watcher;
  }
  expect(leaderAnswers.length).toBeGreaterThan(10);
  expect(leaderAnswers.filter((s) => s !== 200)).toEqual([]);
});

test('the replica reports `primary unreachable` once the primary is gone', async () => {
  const killedAt = Date.now();
  await killAndWait(primary.server!);
  const detection = await waitForReady(replica, 503, /^primary unreachable: WAL receiver /, killedAt, THRESHOLD * INTERVAL_S + SLACK_S);
  measured['primary unreachable (from the primary\'s kill)'] = `${detection.toFixed(1)} s`;
  expect(await status(replica)).toMatchObject({ role: 'replica', ready: false, streaming: false });
  expect(parseMetrics((await get(replica, '/metrics')).body).get('pgc_heartbeat_streaming')).toBe(0);
  // The leader's own PostgreSQL no longer answers: its sidecar turns unready too.
  await waitForReady(primary, 503, /^check failed: /, killedAt, THRESHOLD * INTERVAL_S + SLACK_S);
});

test('SIGTERM stops the sidecar promptly with exit status 0', async () => {
  const group = replica.heartbeat!;
  const t0 = Date.now();
  await terminateGroup(group, 3_000);
  measured['SIGTERM to exit'] = `${Date.now() - t0} ms`;
  expect(group.exitStatus).toBe(0);
  expect(Date.now() - t0).toBeLessThan(2_000);
});
