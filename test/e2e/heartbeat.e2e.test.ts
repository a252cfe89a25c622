/**
 * The heartbeat and metrics sidecars of the synthesized member pods, on the local Kubernetes
 * cluster (test/kube; only the kubelet is emulated, test/kube/node-agent/differences.ts). A
 * two-member cluster is applied with the heartbeat checking every second and a PodMonitor, after
 * the Prometheus Operator's own CRDs. Readiness is read where Kubernetes keeps it: the pods'
 * Ready condition and the Services' EndpointSlices, watched through the API server so each change
 * is timed when the API reports it. Every endpoint is reached at the pod IP the API reports.
 *
 * - the members turn Ready through the heartbeat's readiness probe; the leader lists the
 *   streaming replica with its lag; /metrics is valid Prometheus text on every member;
 * - the metrics exporter serves the library's queries as the monitoring role;
 * - the PodMonitor is accepted by the API server under the upstream schema, selects the member
 *   pods, and names ports they have;
 * - a replica whose replay is paused turns Ready=False and leaves the read-only Service's
 *   EndpointSlice while the leader stays Ready, and returns on resume;
 * - SIGTERM stops the sidecar at once with exit status 0 (the API's lastState and its log say so);
 * - a replica reports `primary unreachable` once the leader's pod is gone and Patroni, paused,
 *   cannot replace it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Size } from 'cdk8s';
import { KubeCluster, KubePostgres, Obj, deploy } from './harness/kube';
import {
  ApiWatch, containerMainPid, containerStatus, installPrometheusOperatorCrds, parsePrometheusText, podReady, processAlive, readyAddresses,
} from './harness/kube-monitoring';
import { record } from './harness/results';
import { makeWorkDir } from './lib/fsutil';
import { httpRequest } from './lib/net';
import { psql } from './lib/pg';
import { waitFor } from './lib/processes';

const RUN = Date.now().toString(36).slice(-5);
const NS = `hb-mon-${RUN}`;
const NAME = 'pghb';
const INTERVAL_S = 1;
const THRESHOLD = 3;
const MAX_LAG_S = 5;
const MAX_LAG_BYTES = 1024 * 1024;
/** Scheduling, probe and polling slack added to every expected bound (2 shared cores). */
const SLACK_S = 4;
const HB_PORT = 8010;
const EXPORTER_PORT = 9187;

let kube: KubeCluster;
let pg: KubePostgres;
let pods: ApiWatch;
let slices: ApiWatch;
let leader: Obj;
let replica: Obj;
/** Measured times, printed at the end and recorded in .e2e/results.json. */
const measured: Record<string, number> = {};

beforeAll(async () => {
  kube = KubeCluster.up();
  const workDir = makeWorkDir('pg-e2e-heartbeat');
  // The PodMonitor in the synthesized file needs its CRD before the apply.
  await installPrometheusOperatorCrds(kube);
  const d = await deploy(kube, workDir, NS, NAME, {
    replicas: { count: 1 },
    monitoring: {
      heartbeat: {
        interval: Duration.seconds(INTERVAL_S),
        timeout: Duration.seconds(1),
        failureThreshold: THRESHOLD,
        maxLagTime: Duration.seconds(MAX_LAG_S),
        maxLag: Size.mebibytes(1),
      },
      metrics: { podMonitor: true, scrapeInterval: Duration.seconds(10) },
    },
  }, 2);
  pg = d.pg;
  leader = d.leader;
  replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  pods = await ApiWatch.open(kube, `/api/v1/namespaces/${NS}/pods`, `postgres.cdk8s.io/cluster=${NAME},app.kubernetes.io/name=postgresql`);
  slices = await ApiWatch.open(kube, `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`,
    `kubernetes.io/service-name in (${NAME}-primary,${NAME}-replicas)`);
  await pods.when('the pod watch\'s initial list', 0, (s) => s.size === 2, 10_000);
});

afterAll(async () => {
  pods?.close();
  slices?.close();
  // eslint-disable-next-line no-console
  console.log(`heartbeat timings on Kubernetes (interval ${INTERVAL_S} s, threshold ${THRESHOLD}, max lag ${MAX_LAG_S} s / ${MAX_LAG_BYTES} B):\n`
    + Object.entries(measured).map(([k, v]) => `  ${k}: ${v}`).join('\n'));
  for (const [k, v] of Object.entries(measured)) record(`kube_heartbeat_${k}`, v);
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
});

const ip = (pod: Obj) => pod.status.podIP as string;
const get = (pod: Obj, port: number, p: string) => httpRequest({ host: ip(pod), port, path: p, timeoutMs: 2000 });
const status = async (pod: Obj) => JSON.parse((await get(pod, HB_PORT, '/status')).body);
/** The ready addresses of one Service's slices, from the watch. */
const sliceOf = (service: string) => (s: ReadonlyMap<string, Obj>) =>
  readyAddresses(new Map([...s].filter(([, o]) => o.metadata.labels?.['kubernetes.io/service-name'] === service)));
const rounded = (ms: number) => Math.round(ms / 100) / 10;

/** Waits until the heartbeat's own /ready answers `code` with a body matching `reason`; returns when. */
async function readyAnswer(pod: Obj, code: number, reason: RegExp, timeoutS: number): Promise<number> {
  await waitFor(async () => {
    const res = await get(pod, HB_PORT, '/ready');
    return res.status === code && reason.test(res.body.trim());
  }, timeoutS * 1000, 100, `${pod.metadata.name} /ready ${code} matching ${reason}`);
  return Date.now();
}

/** Puts Patroni in (or out of) maintenance mode through the leader's REST API and waits until every running member reports it. */
async function setPatroniPause(pause: boolean, on: Obj = leader): Promise<void> {
  const m = await pg.member(on);
  const res = await httpRequest({ host: m.host, port: m.apiPort, path: '/config', method: 'PATCH', json: { pause }, tls: m.apiTls, timeoutMs: 10_000 });
  expect(res.status).toBe(200);
  await waitFor(async () => {
    for (const p of [leader, replica]) {
      const s = JSON.parse((await pg.patroni(p, '/patroni')).body);
      if ((s.pause === true) !== pause) return false;
    }
    return true;
  }, 30_000, 250, `every member to report pause=${pause}`);
}

test('members turn Ready through the heartbeat\'s readiness probe as the API reports it; the leader lists the streaming replica with its lag', async () => {
  for (const pod of await pg.pods()) {
    const hb = pod.spec.containers.find((c: any) => c.name === 'heartbeat');
    expect(hb.readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 'heartbeat' }, periodSeconds: INTERVAL_S });
    expect(hb.ports).toEqual([expect.objectContaining({ name: 'heartbeat', containerPort: HB_PORT })]);
    expect(containerStatus(pod, 'heartbeat')).toMatchObject({ ready: true, restartCount: 0 });
    expect(podReady(pod)).toBe(true);
    const ready = await get(pod, HB_PORT, '/ready');
    expect({ pod: pod.metadata.name, status: ready.status, body: ready.body.trim() }).toEqual({ pod: pod.metadata.name, status: 200, body: 'ok' });
  }
  // The EndpointSlices the endpoint controller wrote from those conditions.
  expect(sliceOf(`${NAME}-primary`)(slices.latest())).toEqual([ip(leader)]);
  expect(sliceOf(`${NAME}-replicas`)(slices.latest())).toEqual([ip(replica)]);

  const s = await waitFor(async () => {
    const st = await status(leader);
    return st.replicas.some((r: any) => r.application_name === replica.metadata.name && r.state === 'streaming' && r.lag_bytes !== null && r.lag_seconds !== null) && st;
  }, 10_000, 200, `the leader to list ${replica.metadata.name} streaming with its lag`);
  expect(s).toMatchObject({ role: 'leader', ready: true, reason: 'ok', lag_bytes: null });
  // The replica connects from its own pod IP (its network namespace), not from loopback.
  expect(s.replicas).toEqual([expect.objectContaining({ application_name: replica.metadata.name, client_addr: ip(replica), state: 'streaming', sync_state: 'async' })]);
  expect(s.replicas[0].lag_bytes).toBeGreaterThanOrEqual(0);
  expect(s.replicas[0].lag_seconds).toBeGreaterThanOrEqual(0);

  const standby = await status(replica);
  expect(standby).toMatchObject({ role: 'replica', ready: true, reason: 'ok', streaming: true, replay_paused: false, replicas: [], consecutive_failures: 0 });
  expect(standby.heartbeat_age_seconds).toBeLessThan(MAX_LAG_S);
  expect(standby.lag_bytes).toBeLessThanOrEqual(MAX_LAG_BYTES);
  // The heartbeat row the leader writes is the one the replica reads.
  expect(await psql(await pg.superuserAt(leader), 'select count(*) from cdk8s_heartbeat.beat where id = 1 and lsn is not null', { connectTimeoutSec: 2 })).toBe('1');
});

test('/metrics of the heartbeat is valid Prometheus text on every member, scraped at the pod IPs the API reports', async () => {
  const lead = parsePrometheusText((await get(leader, HB_PORT, '/metrics')).body);
  expect(lead.get('pgc_heartbeat_ready')).toBe(1);
  expect(lead.get('pgc_heartbeat_is_leader')).toBe(1);
  const labels = `{application_name="${replica.metadata.name}",client_addr="${ip(replica)}"}`;
  expect(lead.get(`pgc_heartbeat_replica_lag_bytes${labels}`)).toBeGreaterThanOrEqual(0);
  expect(lead.get(`pgc_heartbeat_replica_lag_seconds${labels}`)).toBeGreaterThanOrEqual(0);
  expect(Number.isInteger(lead.get('pgc_heartbeat_check_failures_total'))).toBe(true);

  const standby = parsePrometheusText((await get(replica, HB_PORT, '/metrics')).body);
  // The heartbeat leaves out what it has not measured: every value it gives is a number.
  for (const [sample, v] of [...lead, ...standby]) expect({ sample, finite: Number.isFinite(v) }).toEqual({ sample, finite: true });
  expect(standby.get('pgc_heartbeat_ready')).toBe(1);
  expect(standby.get('pgc_heartbeat_is_leader')).toBe(0);
  expect(standby.get('pgc_heartbeat_streaming')).toBe(1);
  expect(standby.get('pgc_heartbeat_age_seconds')).toBeLessThan(MAX_LAG_S);
  expect(standby.get('pgc_heartbeat_lag_bytes')).toBeGreaterThanOrEqual(0);
});

test('the metrics exporter serves the library\'s queries from each member as the monitoring role, scraped at the pod IPs', async () => {
  const leaderMetrics = await waitFor(async () => {
    const body = (await get(leader, EXPORTER_PORT, '/metrics')).body;
    return /pgc_replication_lag_bytes\{/.test(body) ? body : undefined;
  }, 30_000, 500, 'replication metrics on the leader\'s exporter');
  const samples = parsePrometheusText(leaderMetrics);
  const names = new Set([...samples.keys()].map((k) => k.split('{')[0]));
  for (const n of ['pg_up', 'pgc_archiver_archived_count', 'pgc_archiver_failing', 'pgc_connections_count', 'pgc_heartbeat_age_seconds',
    'pgc_recovery_is_replica', 'pgc_replication_lag_bytes', 'pgc_replication_lag_seconds']) expect({ n, present: names.has(n) }).toEqual({ n, present: true });
  expect(leaderMetrics).toMatch(/^pg_up 1$/m);
  expect(leaderMetrics).toMatch(new RegExp(`pgc_replication_lag_bytes\\{application_name="${replica.metadata.name}"`));
  expect(leaderMetrics).toMatch(/^pgc_archiver_failing(\{[^}]*\})? 0$/m);
  expect(leaderMetrics).toMatch(/^pgc_recovery_is_replica(\{[^}]*\})? 0$/m);
  expect(leaderMetrics).toMatch(/pgc_connections_count\{[^}]*state="active"/);
  const replicaMetrics = (await get(replica, EXPORTER_PORT, '/metrics')).body;
  parsePrometheusText(replicaMetrics);
  expect(replicaMetrics).toMatch(/^pg_up 1$/m);
  expect(replicaMetrics).toMatch(/^pgc_recovery_is_replica(\{[^}]*\})? 1$/m);
  // The exporter logs in as the monitoring role of its container's environment, which can monitor and is no superuser.
  const metrics = leader.spec.containers.find((c: any) => c.name === 'metrics');
  const user = metrics.env.find((e: any) => e.name === 'DATA_SOURCE_USER').value;
  expect(user).toBe('cdk8s_monitor');
  const su = await pg.superuserAt(leader);
  expect(await psql(su, `select rolsuper::text || ',' || pg_has_role('${user}', 'pg_monitor', 'member')::text from pg_roles where rolname = '${user}'`)).toBe('false,true');
  // The sessions other than the superuser's (Patroni, the heartbeat, this test) are the exporter's, as that role.
  const seen = await waitFor(async () => {
    const [, who] = await Promise.all([get(leader, EXPORTER_PORT, '/metrics'),
      psql(su, "select string_agg(distinct usename, ',') from pg_stat_activity where backend_type = 'client backend' and usename <> 'postgres'")]);
    return who || undefined;
  }, 20_000, 200, 'a session of the exporter during a scrape');
  expect(seen).toBe(user);
});

test('a PodMonitor is accepted by the API server under the Prometheus Operator\'s CRD; its selector selects the member pods and its ports are named on them', async () => {
  const version = /^PROMETHEUS_OPERATOR_VERSION=v(\S+)$/m.exec(fs.readFileSync(path.resolve(__dirname, '../kube/versions.env'), 'utf8'))![1];
  const crd = await kube.get('crd', 'podmonitors.monitoring.coreos.com');
  expect(crd.metadata.annotations?.['operator.prometheus.io/version']).toBe(version);
  const pm = await kube.get('podmonitor', NAME, NS);
  // The upstream schema is enforced: an interval that is no Prometheus duration is refused.
  const bad = {
    apiVersion: pm.apiVersion,
    kind: pm.kind,
    metadata: { name: `${NAME}-invalid`, namespace: NS },
    spec: { ...pm.spec, podMetricsEndpoints: [{ ...pm.spec.podMetricsEndpoints[0], interval: '30 seconds' }] },
  };
  await expect(kube.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], JSON.stringify(bad)))
    .rejects.toThrow(/podMetricsEndpoints\[0\]\.interval in body should match/);

  // As Prometheus' pod discovery does: the selector in the PodMonitor's namespace, each endpoint's port by name.
  expect(pm.spec.namespaceSelector).toBeUndefined();
  const sel = pm.spec.selector;
  expect(Object.keys(sel)).toEqual(['matchLabels']);
  const selected = await kube.list('pods', NS, Object.entries<string>(sel.matchLabels).map(([k, v]) => `${k}=${v}`).join(','));
  expect(selected.map((p) => p.metadata.name).sort()).toEqual((await pg.pods()).map((p) => p.metadata.name));
  const everyPod = await kube.list('pods', NS);
  expect(everyPod.length).toBeGreaterThan(selected.length); // the Jobs' pods are not selected
  expect(pm.spec.podMetricsEndpoints.map((e: any) => e.port).sort()).toEqual(['heartbeat', 'metrics']);
  for (const pod of selected) {
    for (const ep of pm.spec.podMetricsEndpoints) {
      const port = pod.spec.containers.flatMap((c: any) => c.ports ?? []).find((p: any) => p.name === ep.port);
      expect({ pod: pod.metadata.name, port: ep.port, found: Boolean(port) }).toEqual({ pod: pod.metadata.name, port: ep.port, found: true });
      const res = await httpRequest({ host: pod.status.podIP, port: port.containerPort, path: ep.path, timeoutMs: 5000 });
      expect(res.status).toBe(200);
      expect(parsePrometheusText(res.body).size).toBeGreaterThan(0);
    }
  }
});

test('a replica whose replay is paused turns Ready=False and leaves the read-only Service\'s EndpointSlice while the leader stays Ready; it returns on resume', async () => {
  // Patroni resumes a paused replay on its next loop unless it is in maintenance mode: pause it first, as an operator would.
  await setPatroniPause(true);
  const replicaSql = await pg.superuserAt(replica);
  const t0 = Date.now();
  await psql(replicaSql, 'select pg_wal_replay_pause()');
  const hbAt = await readyAnswer(replica, 503, /replay is paused \(pg_wal_replay_pause\)/, THRESHOLD * INTERVAL_S + SLACK_S);
  const notReadyAt = await pods.when(`${replica.metadata.name} Ready=False`, t0, (s) => !podReady(s.get(replica.metadata.name)), 30_000);
  const leftAt = await slices.when(`${replica.metadata.name} to leave ${NAME}-replicas`, t0, (s) => !sliceOf(`${NAME}-replicas`)(s).includes(ip(replica)), 30_000);
  expect(await status(replica)).toMatchObject({ role: 'replica', ready: false, streaming: true, replay_paused: true });
  const paused = pods.latest().get(replica.metadata.name)!;
  expect(containerStatus(paused, 'heartbeat').ready).toBe(false);
  expect(containerStatus(paused, 'postgres').ready).toBe(true); // the heartbeat alone made it unready

  const t1 = Date.now();
  await psql(replicaSql, 'select pg_wal_replay_resume()');
  const hbBackAt = await readyAnswer(replica, 200, /^ok$/, 2 * INTERVAL_S + SLACK_S);
  const readyAt = await pods.when(`${replica.metadata.name} Ready=True`, t1, (s) => podReady(s.get(replica.metadata.name)), 30_000);
  const backAt = await slices.when(`${replica.metadata.name} back in ${NAME}-replicas`, t1, (s) => sliceOf(`${NAME}-replicas`)(s).includes(ip(replica)), 30_000);
  await setPatroniPause(false);

  // The leader was Ready, and the read-write slice's only address, in every state the API reported meanwhile.
  expect(pods.statesSince(t0).filter((s) => !podReady(s.get(leader.metadata.name))).length).toBe(0);
  expect(slices.statesSince(t0).filter((s) => sliceOf(`${NAME}-primary`)(s).join() !== ip(leader)).length).toBe(0);

  Object.assign(measured, {
    pause_to_heartbeat_unready_seconds: rounded(hbAt - t0),
    pause_to_pod_not_ready_seconds: rounded(notReadyAt - t0),
    pause_to_left_replicas_slice_seconds: rounded(leftAt - t0),
    resume_to_heartbeat_ready_seconds: rounded(hbBackAt - t1),
    resume_to_pod_ready_seconds: rounded(readyAt - t1),
    resume_to_back_in_replicas_slice_seconds: rounded(backAt - t1),
  });
  // Failure threshold x interval, then the kubelet's probe (period = interval) and the status write.
  expect(hbAt - t0).toBeLessThanOrEqual((THRESHOLD * INTERVAL_S + SLACK_S) * 1000);
  expect(notReadyAt - t0).toBeLessThanOrEqual((THRESHOLD * INTERVAL_S + INTERVAL_S + SLACK_S) * 1000);
  expect(leftAt - t0).toBeLessThanOrEqual((THRESHOLD * INTERVAL_S + INTERVAL_S + 2 * SLACK_S) * 1000);
  expect(backAt - t1).toBeLessThanOrEqual((2 * INTERVAL_S + 2 * SLACK_S) * 1000);
});

test('SIGTERM stops the heartbeat sidecar promptly with exit status 0, as the API\'s container status and the container log report', async () => {
  const pod = (await kube.get('pod', replica.metadata.name, NS));
  const before = containerStatus(pod, 'heartbeat');
  const pid = containerMainPid(pod, 'heartbeat');
  expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['/opt/cdk8s-postgres/heartbeat.py']));
  const t0 = Date.now();
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !processAlive(pid), 5_000, 10, `the heartbeat process ${pid} to exit`);
  const exitMs = Date.now() - t0;
  // restartPolicy Always: the container runs again after the back-off, and the API keeps the previous run's end.
  const restartedAt = await pods.when('the heartbeat container restarted', t0, (s) => {
    const c = s.get(pod.metadata.name) && containerStatus(s.get(pod.metadata.name)!, 'heartbeat');
    return Boolean(c && c.restartCount === before.restartCount + 1 && c.state.running && c.lastState.terminated);
  }, 60_000);
  const after = containerStatus(pods.latest().get(pod.metadata.name)!, 'heartbeat');
  expect(after.lastState.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  // finishedAt has whole seconds.
  const finished = Date.parse(after.lastState.terminated.finishedAt);
  expect(finished).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
  expect(finished).toBeLessThanOrEqual(t0 + 2000);
  // The sidecar's own last words, in the container log the node agent keeps.
  const log = fs.readFileSync(path.join(kube.podLogDir(NS, pod), 'heartbeat.log'), 'utf8');
  const said = /^(\S+) heartbeat: SIGTERM received, exiting$/m.exec(log);
  expect(said).not.toBeNull();
  expect(Math.abs(Date.parse(said![1]) - t0)).toBeLessThan(2000);
  await pods.when(`${pod.metadata.name} Ready again`, restartedAt - 1, (s) => podReady(s.get(pod.metadata.name)), 30_000);
  Object.assign(measured, { sigterm_to_exit_ms: exitMs, sigterm_to_restarted_seconds: rounded(restartedAt - t0) });
  expect(exitMs).toBeLessThan(2000);
});

test('a replica reports `primary unreachable` once the leader\'s pod is gone and Patroni, paused, cannot replace it', async () => {
  await setPatroniPause(true);
  const t0 = Date.now();
  // Patroni in maintenance mode leaves PostgreSQL running when it exits; the container's end takes PostgreSQL with it.
  await kube.kubectl(['delete', 'pod', '-n', NS, leader.metadata.name, '--wait=false']);
  const hbAt = await readyAnswer(replica, 503, /^primary unreachable: WAL receiver /, THRESHOLD * INTERVAL_S + 30);
  const notReadyAt = await pods.when(`${replica.metadata.name} Ready=False`, t0, (s) => !podReady(s.get(replica.metadata.name)), 30_000);
  const goneAt = await pods.when(`the old leader pod ${leader.metadata.name} gone`, t0,
    (s) => s.get(leader.metadata.name)?.metadata.uid !== leader.metadata.uid, 60_000);
  expect(await status(replica)).toMatchObject({ role: 'replica', ready: false, streaming: false });
  expect(parsePrometheusText((await get(replica, HB_PORT, '/metrics')).body).get('pgc_heartbeat_streaming')).toBe(0);
  // Paused, Patroni promoted nobody: the replica is still in recovery.
  expect(await psql(await pg.superuserAt(replica), 'select pg_is_in_recovery()')).toBe('t');
  // The old leader's container logs: its paused Patroni did not shut PostgreSQL down (it went with
  // the container), and its heartbeat took the SIGTERM of the pod deletion and exited.
  const logs = kube.podLogDir(NS, leader);
  expect(fs.readFileSync(path.join(logs, 'postgres.log'), 'utf8')).not.toMatch(/shutdown request|database system is shut down/);
  expect(fs.readFileSync(path.join(logs, 'heartbeat.log'), 'utf8')).toMatch(/heartbeat: SIGTERM received, exiting\n$/);
  Object.assign(measured, {
    leader_pod_delete_to_primary_unreachable_seconds: rounded(hbAt - t0),
    leader_pod_delete_to_replica_not_ready_seconds: rounded(notReadyAt - t0),
    leader_pod_delete_to_pod_gone_seconds: rounded(goneAt - t0),
  });
});
