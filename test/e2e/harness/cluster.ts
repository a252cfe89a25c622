/**
 * Runs the members of a synthesized PostgresCluster as processes on loopback: one cgroup and one
 * loopback IP per pod, configured from the YAML (ConfigMaps, pod templates, Services), changed
 * only as listed in ./differences.ts.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { issueCertificates } from './cert-manager';
import { HOST_BIN_DIR, HOST_EXPORTER, HOST_PATRONI, HOST_PGBACKREST, HOST_PGBOUNCER } from './differences';
import { addHost, removeHostNames } from './hosts';
import { FakeKubeApi } from './kube-api';
import { Manifest, findObject, loadManifests, objectsOfKind, selects } from './manifests';
import { Endpoint, ServiceProxy } from './service-proxy';
import { makeServiceDir, writeServiceFile } from '../lib/fsutil';
import { HttpsOptions, httpRequest } from '../lib/net';
import { PatroniMember, waitForLeader, waitForStreaming } from '../lib/patroni';
import { PgTarget } from '../lib/pg';
import { ProcessGroup, killAndWait, spawnGroup, terminateGroup, waitFor, waitForGroupExit } from '../lib/processes';

/** Options of {@link LoopbackCluster}. */
export interface LoopbackClusterOptions {
  /** The synthesized YAML (`*.k8s.yaml`). */
  readonly manifestFile: string;
  /** Scratch directory for volumes and logs. */
  readonly workDir: string;
  /** `host:port` of the etcd that replaces the Kubernetes DCS. */
  readonly etcdEndpoint: string;
  /** Third octet of the loopback addresses (127.0.<subnet>.x), so that two clusters can run side by side. @default 0 */
  readonly subnet?: number;
  /** Clusters running beside this one whose issued Secrets this cluster's pods may mount (same namespace). */
  readonly neighbours?: LoopbackCluster[];
  /** Secrets the user created before applying (object storage credentials, CAs): name -> key -> value. */
  readonly userSecrets?: Record<string, Record<string, string>>;
}

/** The outcome of running a Kubernetes probe against a member. */
export interface ProbeResult {
  /** HTTP status, or undefined when the connection failed (a probe failure for Kubernetes). */
  readonly status: number | undefined;
  /** What Kubernetes concludes: 200-399 succeeds. */
  readonly success: boolean;
}

type Container = Record<string, any>;
type PodSpec = Record<string, any>;

/** What running a Job's pod gave. */
export interface JobResult {
  /** The Job (its generated name). */
  readonly job: string;
  /** Exit code of the container (or the signal that ended it). */
  readonly exitCode: number | NodeJS.Signals | undefined;
  /** Its stdout and stderr. */
  readonly log: string;
}

/** One pod of a StatefulSet (or of a Deployment or Job), run as a process group. */
export class Member implements PatroniMember {
  /** The running container processes of the pod, by container name. */
  public readonly groups = new Map<string, ProcessGroup>();
  /** HTTPS to the REST API with the member's own certificate (it allows client auth), when TLS is on. */
  public apiTls: HttpsOptions | undefined;
  public readonly apiPort: number;
  public readonly pgPort: number;

  constructor(
    public readonly name: string,
    public readonly statefulSet: string,
    public readonly host: string,
    public readonly dir: string,
    public readonly podLabels: Record<string, string>,
    private readonly podSpec: PodSpec,
  ) {
    // Pods other than members (the pooler, Jobs) have no Patroni port: 0 there.
    const ports = (this.mainContainer.ports ?? []) as Array<{ name: string; containerPort: number }>;
    this.apiPort = ports.find((p) => p.name === 'patroni')?.containerPort ?? 0;
    this.pgPort = ports.find((p) => p.name === 'postgres')?.containerPort ?? 0;
  }

  get mainContainer(): Container {
    return this.podSpec.containers[0];
  }

  get spec(): PodSpec {
    return this.podSpec;
  }

  /** Whether the member's main (postgres) container is running. */
  get running(): boolean {
    const main = this.groups.get(this.mainContainer.name);
    return main !== undefined && main.exitStatus === undefined;
  }

  /** The container of this name in the pod spec. */
  container(name: string): Container {
    const c = (this.podSpec.containers as Container[]).find((x) => x.name === name);
    if (!c) throw new Error(`${this.name}: no container ${name}`);
    return c;
  }

  /** Whether Kubernetes would count the pod ready: every container's readiness probe passes. */
  async ready(): Promise<boolean> {
    for (const c of this.podSpec.containers as Container[]) {
      if (c.readinessProbe && !(await this.probe('readinessProbe', c.name)).success) return false;
    }
    return this.running;
  }

  /** Host directory standing for a volume of this pod. */
  volumeDir(volume: string): string {
    return path.join(this.dir, 'volumes', volume);
  }

  /** Runs a container's probe (`startupProbe`, `livenessProbe`, `readinessProbe`) as the kubelet would. */
  async probe(kind: 'startupProbe' | 'livenessProbe' | 'readinessProbe', containerName?: string): Promise<ProbeResult> {
    const container = containerName ? this.container(containerName) : this.mainContainer;
    const probe = container[kind];
    if (probe?.tcpSocket) return this.tcpProbe(container, kind, probe);
    if (!probe?.httpGet) throw new Error(`${this.name}: container ${container.name} has no httpGet or tcpSocket ${kind}`);
    const port = typeof probe.httpGet.port === 'number'
      ? probe.httpGet.port
      : (container.ports as any[]).find((p) => p.name === probe.httpGet.port)?.containerPort;
    if (port === undefined) throw new Error(`${this.name}: ${kind} names port ${probe.httpGet.port}, which the container does not declare`);
    try {
      // The kubelet does not verify a probe's server certificate.
      const res = await httpRequest({
        host: this.host,
        port,
        path: probe.httpGet.path,
        timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
        tls: probe.httpGet.scheme === 'HTTPS' ? {} : undefined,
      });
      return { status: res.status, success: res.status >= 200 && res.status < 400 };
    } catch {
      return { status: undefined, success: false };
    }
  }

  /** A tcpSocket probe: success when a TCP connection opens within the timeout (status 0 then). */
  private async tcpProbe(container: Container, kind: string, probe: any): Promise<ProbeResult> {
    const port = typeof probe.tcpSocket.port === 'number'
      ? probe.tcpSocket.port
      : (container.ports as any[] ?? []).find((p) => p.name === probe.tcpSocket.port)?.containerPort;
    if (port === undefined) throw new Error(`${this.name}: ${kind} names port ${probe.tcpSocket.port}, which the container does not declare`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: this.host, port });
      const done = (v: boolean) => {
        socket.destroy();
        resolve(v);
      };
      socket.setTimeout((probe.timeoutSeconds ?? 1) * 1000, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    return { status: ok ? 0 : undefined, success: ok };
  }
}

const WILDCARD = /^(0\.0\.0\.0|\*|::)$/;

/** A StatefulSet of Patroni members (the others, such as the backup node, are plain pods). */
function isMemberSet(sts: Manifest): boolean {
  return ((sts.spec.template.spec.volumes ?? []) as any[]).some((v) => v.name === 'patroni-config');
}

/** Where the programs the containers run live on this machine (see ./differences.ts). */
const HOST_COMMANDS: Record<string, string> = {
  patroni: HOST_PATRONI,
  python3: '/usr/bin/python3',
  postgres_exporter: HOST_EXPORTER,
  pgbouncer: HOST_PGBOUNCER,
  pgbackrest: HOST_PGBACKREST,
};

/** The entrypoint of an image whose container spec gives none. */
function imageEntrypoint(image: string): string {
  if (/postgres-exporter/.test(image)) return 'postgres_exporter';
  throw new Error(`the harness does not know the entrypoint of ${image}`);
}

/** A Secret the credentials Job created (decoded). */
export interface CreatedSecret {
  readonly type?: string;
  readonly labels: Record<string, string>;
  readonly data: Record<string, string>;
}

/** A synthesized cluster running on loopback. */
export class LoopbackCluster {
  public readonly members = new Map<string, Member>();
  /** Pods of Deployments (the pooler), by pod name `<deployment>-<i>`. */
  public readonly deploymentPods = new Map<string, Member>();
  /** Pods of StatefulSets that are not Patroni members (the backup node), by pod name. */
  public readonly statefulPods = new Map<string, Member>();
  /** username/password of every Secret the credentials Job created (read back from the fake API). */
  public readonly passwords = new Map<string, { username: string; password: string }>();
  /** The API server the credentials Job's script talks to; it holds the Secrets it created. */
  private kubeApi: FakeKubeApi | undefined;
  private jobRuns = 0;
  private manifests: Manifest[];
  /** Directories holding each Secret's files: the certificates cert-manager would issue. */
  public readonly secretDirs: Map<string, string>;
  /** Names this cluster added to /etc/hosts. */
  private readonly hostNames = new Set<string>();
  /** The leader whose paths a backup Job's pg1-path stands for (see ./differences.ts). */
  private jobLeader: Member | undefined;
  private readonly proxies = new Map<string, { proxy: ServiceProxy; ip: string }>();
  private nextMemberIp = 11;
  private nextServiceIp = 2;
  private readonly net: string;

  constructor(private readonly options: LoopbackClusterOptions) {
    this.manifests = loadManifests(options.manifestFile);
    this.secretDirs = issueCertificates(this.manifests, path.join(options.workDir, 'secrets'));
    this.net = `127.0.${options.subnet ?? 0}`;
  }

  /** A file of a Secret the harness issued (for example the CA a client verifies the server with). */
  secretFile(secretName: string, key: string): string {
    const dir = this.issuedSecretDir(secretName);
    if (!dir) throw new Error(`no Secret ${secretName} was issued`);
    return path.join(dir, key);
  }

  /** The directory of an issued certificate Secret, this cluster's or a neighbour's. */
  private issuedSecretDir(name: string): string | undefined {
    return this.secretDirs.get(name) ?? (this.options.neighbours ?? []).map((n) => n.secretDirs.get(name)).find((d) => d !== undefined);
  }

  /** A key of a Secret: one the credentials Job created, or a file of an issued certificate. */
  secretValue(secretName: string, key: string): string {
    const stored = this.kubeApi?.secrets.get(secretName);
    if (stored) {
      if (!(key in stored.data)) throw new Error(`Secret ${secretName} has no key ${key} (has ${Object.keys(stored.data).join(', ')})`);
      return stored.data[key];
    }
    return fs.readFileSync(this.secretFile(secretName, key), 'utf8');
  }

  /** The Secrets the credentials Job created, as the fake API server stores them. */
  get createdSecrets(): ReadonlyMap<string, CreatedSecret> {
    return this.kubeApi?.secrets ?? new Map();
  }

  /** The manifests currently applied. */
  get objects(): readonly Manifest[] {
    return this.manifests;
  }

  /** Members in StatefulSet order (primary set first). */
  memberList(): Member[] {
    return [...this.members.values()];
  }

  /** Running members. */
  running(): Member[] {
    return this.memberList().filter((m) => m.running);
  }

  /** Loopback IP of a ClusterIP Service's proxy. */
  serviceIp(service: string): string {
    const entry = this.proxies.get(service);
    if (!entry) throw new Error(`Service ${service} is not running`);
    return entry.ip;
  }

  /** The endpoints a Service has now. */
  serviceEndpoints(service: string): readonly Endpoint[] {
    return this.proxies.get(service)!.proxy.endpoints;
  }

  /** A psql target through a Service (or a member) as the superuser from the generated Secret. */
  superuserVia(hostOrService: string, port = 5432): PgTarget {
    const host = this.proxies.get(hostOrService)?.ip ?? this.members.get(hostOrService)?.host ?? hostOrService;
    const secret = [...this.passwords.values()].find((p) => p.username === 'postgres');
    if (!secret) throw new Error('no superuser secret');
    return { host, port, user: secret.username, password: secret.password };
  }

  /** Starts the Service proxies and every member of every StatefulSet (in parallel, like `Parallel` pod management). */
  async start(): Promise<void> {
    await this.ensureSecrets();
    for (const svc of objectsOfKind(this.manifests, 'Service')) {
      if (svc.spec.clusterIP === 'None' || svc.spec.clusterIp === 'None') continue;
      await this.startService(svc);
    }
    // Other StatefulSets (the backup node) first: members archive to it from their first WAL switch.
    for (const sts of objectsOfKind(this.manifests, 'StatefulSet').filter((x) => !isMemberSet(x))) {
      for (let i = 0; i < sts.spec.replicas; i++) await this.startMember(this.memberFor(sts, i));
    }
    const starts: Promise<void>[] = [];
    for (const sts of objectsOfKind(this.manifests, 'StatefulSet').filter(isMemberSet)) {
      for (let i = 0; i < sts.spec.replicas; i++) starts.push(this.startMember(this.memberFor(sts, i)));
    }
    await Promise.all(starts);
    for (const deploy of objectsOfKind(this.manifests, 'Deployment')) await this.startDeployment(deploy);
  }

  /**
   * Runs the credentials Job (its real script, from the scripts ConfigMap) against the fake API
   * server, then reads the Secrets back: each key of them is then available to Secret volumes and
   * secretKeyRef. Existing Secrets are left as they are, as in a cluster.
   */
  async ensureSecrets(): Promise<JobResult | undefined> {
    const job = objectsOfKind(this.manifests, 'Job').find((j) =>
      ((j.spec.template.spec.containers[0].env ?? []) as any[]).some((e) => e.name === 'SECRETS'));
    if (!job) return undefined;
    this.kubeApi ??= await FakeKubeApi.start(makeServiceDir(path.join(this.options.workDir, 'kube-api'), 0o755));
    const result = await this.runJob(job.metadata.name);
    if (result.exitCode !== 0) throw new Error(`credentials Job ${job.metadata.name} exited with ${result.exitCode}:\n${result.log}`);
    for (const [name, s] of this.kubeApi.secrets) {
      if (s.data.username !== undefined && s.data.password !== undefined) {
        this.passwords.set(name, { username: s.data.username, password: s.data.password });
      }
    }
    return result;
  }

  /**
   * Runs the pod of the Job whose name starts with `namePrefix` (its first container, once, no
   * retries) as a process on its own loopback IP, with its environment and volumes resolved as
   * for a member, and waits until it exits.
   */
  async runJob(namePrefix: string, timeoutMs = 300_000): Promise<JobResult> {
    // A CronJob's Job, as `kubectl create job --from=cronjob/<name>` makes it.
    const jobs = [
      ...objectsOfKind(this.manifests, 'Job'),
      ...objectsOfKind(this.manifests, 'CronJob').map((c): Manifest => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: c.metadata, spec: c.spec.jobTemplate.spec })),
    ].filter((j) => j.metadata.name.startsWith(namePrefix));
    if (jobs.length !== 1) throw new Error(`${jobs.length} Jobs are named ${namePrefix}*: ${jobs.map((j) => j.metadata.name).join(', ')}`);
    const job = jobs[0];
    this.jobLeader = await this.currentLeader();
    const podName = `${job.metadata.name}-${++this.jobRuns}`;
    const dir = makeServiceDir(path.join(this.options.workDir, 'jobs', podName));
    const pod = new Member(podName, job.metadata.name, `${this.net}.${this.nextMemberIp++}`, dir,
      job.spec.template.metadata?.labels ?? {}, job.spec.template.spec);
    this.prepareVolumes(pod);
    const c = pod.mainContainer;
    const { command, args } = this.resolveCommand(pod, c);
    const env = this.environment(pod, c);
    if (job.spec.template.spec.automountServiceAccountToken && this.kubeApi) {
      // The kubelet's service variables, and the token mount (see ./differences.ts).
      env.KUBERNETES_SERVICE_HOST = this.kubeApi.address.host;
      env.KUBERNETES_SERVICE_PORT = String(this.kubeApi.address.port);
      env.SA_DIR = this.kubeApi.saDir;
    }
    const logFile = path.join(dir, `${c.name}.log`);
    const group = spawnGroup({ name: podName, command, args, env, cwd: dir, logFile });
    await waitForGroupExit(group, timeoutMs).catch(() => undefined);
    const exitCode = group.exitStatus;
    await killAndWait(group).catch(() => undefined);
    return { job: job.metadata.name, exitCode, log: fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '' };
  }

  private addHost(name: string, ip: string): void {
    this.hostNames.add(name);
    addHost(name, ip);
  }

  /** The member Patroni reports as leader now, if any. */
  async currentLeader(): Promise<Member | undefined> {
    for (const m of this.running()) {
      const role = await this.role(m);
      if (role === 'primary' || role === 'master') return m;
    }
    return undefined;
  }

  /** Starts the missing pods of a Deployment (`<deployment>-<i>`, i < replicas) and waits until each is ready. */
  async startDeployment(deploy: Manifest): Promise<void> {
    const pods: Member[] = [];
    for (let i = 0; i < (deploy.spec.replicas ?? 1); i++) {
      const name = `${deploy.metadata.name}-${i}`;
      let pod = this.deploymentPods.get(name);
      if (!pod) {
        pod = new Member(name, deploy.metadata.name, `${this.net}.${this.nextMemberIp++}`, makeServiceDir(path.join(this.options.workDir, name)),
          deploy.spec.template.metadata.labels, deploy.spec.template.spec);
        this.deploymentPods.set(name, pod);
      }
      if (!pod.running) await this.startMember(pod);
      pods.push(pod);
    }
    await waitFor(async () => {
      for (const p of pods) if (!(await p.ready())) throw new Error(`${p.name} is not ready`);
      return true;
    }, 60_000, 250, `the pods of Deployment ${deploy.metadata.name} to be ready`);
  }

  /** Stops every Deployment pod (SIGTERM, SIGKILL after the grace period). */
  async stopDeployments(): Promise<void> {
    await Promise.all([...this.deploymentPods.values()].map(async (p) => {
      const grace = (p.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      await Promise.all([...p.groups.values()].map((g) => terminateGroup(g, grace)));
      p.groups.clear();
    }));
  }

  /**
   * Applies a new synthesized YAML: StatefulSets scale to their new replica counts (new ordinals
   * start; the highest ordinals stop gracefully, as the StatefulSet controller does).
   */
  async apply(manifestFile: string): Promise<{ started: string[]; stopped: string[] }> {
    this.manifests = loadManifests(manifestFile);
    // The (new) credentials Job creates the Secrets of users added since.
    await this.ensureSecrets();
    const started: string[] = [];
    const stopped: string[] = [];
    for (const sts of objectsOfKind(this.manifests, 'StatefulSet').filter(isMemberSet)) {
      const want = sts.spec.replicas as number;
      const have = this.memberList().filter((m) => m.statefulSet === sts.metadata.name);
      for (const m of have) {
        const ordinal = Number(m.name.slice(sts.metadata.name.length + 1));
        if (ordinal >= want && m.running) {
          await this.stop(m.name);
          stopped.push(m.name);
        }
      }
      for (let i = 0; i < want; i++) {
        const m = this.memberFor(sts, i);
        if (!m.running) {
          await this.startMember(m);
          started.push(m.name);
        }
      }
    }
    return { started, stopped };
  }

  /**
   * Starts the cluster and waits until one leader leads, every replica streams from it and every
   * pod is ready; returns the leader.
   */
  async startHealthy(timeoutMs = 120_000): Promise<Member> {
    await this.start();
    const leader = (await waitForLeader(this.memberList(), { timeoutMs })) as Member;
    await waitForStreaming(leader, this.memberList().filter((m) => m.name !== leader.name), { timeoutMs });
    await this.waitUntilReady(timeoutMs);
    return leader;
  }

  /** Stops every pod gracefully (Deployments first, then the members) and the Services. */
  async shutdown(): Promise<void> {
    await this.stopDeployments();
    await Promise.all(this.running().map((m) => this.stop(m.name)));
    await Promise.all([...this.statefulPods.values()].map(async (p) => {
      await Promise.all([...p.groups.values()].map((g) => terminateGroup(g, 10_000)));
      p.groups.clear();
    }));
    await this.closeServices();
  }

  /** Waits until every running member is ready as Kubernetes counts it (every container's readiness probe). */
  async waitUntilReady(timeoutMs = 120_000): Promise<void> {
    await waitFor(async () => {
      const notReady: string[] = [];
      for (const m of this.running()) if (!(await m.ready())) notReady.push(m.name);
      if (notReady.length > 0) throw new Error(`not ready: ${notReady.join(', ')}`);
      return true;
    }, timeoutMs, 250, 'every member pod to be ready');
    // Let every Service see the ready pods before anyone connects through it.
    await Promise.all([...this.proxies.values()].map(({ proxy }) => proxy.refresh()));
  }

  /** Node loss: SIGKILL every process of every container of the member at once. */
  async kill(name: string): Promise<void> {
    const m = this.member(name);
    await Promise.all([...m.groups.values()].map((g) => killAndWait(g)));
    m.groups.clear();
  }

  /** Pod deletion: SIGTERM to each container's main process, SIGKILL after the grace period. */
  async stop(name: string): Promise<void> {
    const m = this.member(name);
    const grace = (m.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    await Promise.all([...m.groups.values()].map((g) => terminateGroup(g, grace)));
    m.groups.clear();
  }

  /** Starts a stopped member again on its existing volumes (a pod rescheduled onto its claim). */
  async restart(name: string): Promise<void> {
    await this.startMember(this.member(name));
  }

  /** The member of this name. */
  member(name: string): Member {
    const m = this.members.get(name) ?? this.statefulPods.get(name);
    if (!m) throw new Error(`no member or StatefulSet pod ${name}`);
    return m;
  }

  /** Stops the proxies and removes the cluster's names from /etc/hosts (members are stopped by stopAll). */
  async closeServices(): Promise<void> {
    for (const { proxy } of this.proxies.values()) await proxy.close();
    this.proxies.clear();
    await this.kubeApi?.close();
    removeHostNames(this.hostNames);
    this.hostNames.clear();
  }

  /** Current role as the member's Patroni reports it (`primary`/`master`, `replica`), undefined when unreachable. */
  async role(m: Member): Promise<string | undefined> {
    try {
      const res = await httpRequest({ host: m.host, port: m.apiPort, path: '/patroni', timeoutMs: 1000, tls: m.apiTls });
      return JSON.parse(res.body).role as string;
    } catch {
      return undefined;
    }
  }

  /** The labels the pod would carry now: its template's plus the role label Patroni would set. */
  async liveLabels(m: Member): Promise<Record<string, string>> {
    if (!this.members.has(m.name)) return { ...m.podLabels }; // not a Patroni member: its template's labels
    const cfg = this.patroniConfigOf(m);
    const role = await this.role(m);
    const labels = { ...m.podLabels };
    if (role === 'primary' || role === 'master') labels[cfg.kubernetes.role_label] = cfg.kubernetes.leader_label_value;
    else if (role === 'replica') labels[cfg.kubernetes.role_label] = cfg.kubernetes.follower_label_value;
    return labels;
  }

  private async startService(svc: Manifest): Promise<void> {
    const name = svc.metadata.name;
    if (this.proxies.has(name)) return;
    const ip = `${this.net}.${this.nextServiceIp++}`;
    // One proxy per Service port on the Service's address.
    for (const [i, port] of (svc.spec.ports as any[]).entries()) {
      const proxy = await ServiceProxy.start({
        name: i === 0 ? name : `${name}:${port.port}`,
        listenHost: ip,
        listenPort: port.port,
        endpoints: async () => {
          const eps: Endpoint[] = [];
          for (const m of [...this.running(), ...[...this.deploymentPods.values()].filter((p) => p.running)]) {
            if (!selects(svc.spec.selector, await this.liveLabels(m))) continue;
            if (!(await m.ready())) continue;
            const target = typeof port.targetPort === 'number'
              ? port.targetPort
              : (m.spec.containers as Container[]).flatMap((c) => c.ports ?? []).find((p: any) => p.name === port.targetPort).containerPort;
            eps.push({ name: m.name, host: m.host, port: target });
          }
          return eps;
        },
      });
      this.proxies.set(i === 0 ? name : `${name}:${port.port}`, { proxy, ip });
    }
    this.addHost(name, ip);
  }

  private memberFor(sts: Manifest, ordinal: number): Member {
    const name = `${sts.metadata.name}-${ordinal}`;
    const pods = isMemberSet(sts) ? this.members : this.statefulPods;
    let m = pods.get(name);
    if (!m) {
      const dir = makeServiceDir(path.join(this.options.workDir, name));
      m = new Member(name, sts.metadata.name, `${this.net}.${this.nextMemberIp++}`, dir,
        sts.spec.template.metadata.labels, sts.spec.template.spec);
      pods.set(name, m);
      this.addHost(`${name}.${sts.spec.serviceName}`, m.host);
      const tlsVolume = (m.spec.volumes as any[]).find((v) => v.name === 'tls-server');
      if (tlsVolume) {
        const read = (key: string) => fs.readFileSync(this.secretFile(tlsVolume.secret.secretName, key), 'utf8');
        m.apiTls = { ca: read('ca.crt'), cert: read('tls.crt'), key: read('tls.key') };
      }
    }
    return m;
  }

  private patroniConfigOf(m: Member): any {
    const volume = (m.spec.volumes as any[]).find((v) => v.name === 'patroni-config');
    const cm = findObject(this.manifests, 'ConfigMap', volume.configMap.name);
    return parseYaml(cm.data['patroni.yaml']);
  }

  /** Maps a path inside the container to the member's directory for the volume mounted there. */
  private hostPath(m: Member, mounts: Array<{ name: string; mountPath: string }>, p: string): string {
    const mount = [...mounts]
      .sort((a, b) => b.mountPath.length - a.mountPath.length)
      .find((v) => p === v.mountPath || p.startsWith(v.mountPath + '/'));
    return mount ? m.volumeDir(mount.name) + p.slice(mount.mountPath.length) : p;
  }

  /** Materializes the pod's volumes: ConfigMap files, emptyDirs, and the claim (kept across restarts). */
  private prepareVolumes(m: Member): void {
    for (const v of m.spec.volumes as any[]) {
      const dir = m.volumeDir(v.name);
      if (v.emptyDir) {
        fs.rmSync(dir, { recursive: true, force: true }); // an emptyDir is new for each pod
        makeServiceDir(dir);
      } else if (v.configMap) {
        makeServiceDir(dir, 0o755);
        const cm = findObject(this.manifests, 'ConfigMap', v.configMap.name);
        let data = (cm.data ?? {}) as Record<string, string>;
        // The CA publisher Job fills <cluster>-ca-cert with the server certificate's ca.crt at apply.
        if (/-ca-cert$/.test(v.configMap.name) && !data['ca.crt']) {
          data = { 'ca.crt': fs.readFileSync(this.secretFile(`${v.configMap.name.replace(/-ca-cert$/, '')}-server-tls`, 'ca.crt'), 'utf8') };
        }
        const items = (v.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }))) as Array<{ key: string; path: string }>;
        for (const { key, path: file } of items) {
          if (!(key in data)) throw new Error(`${m.name}: ConfigMap ${v.configMap.name} has no key ${key}`);
          const value = data[key];
          const content = file === 'patroni.yaml' ? this.adaptPatroniConfig(m, value)
            : file === 'pgbouncer.ini' ? this.adaptPgBouncerConfig(m, value)
              : file === 'pgbackrest.conf' ? this.adaptPgBackRestConfig(m, value) : value;
          writeServiceFile(path.join(dir, file), content, v.configMap.defaultMode ?? 0o644);
        }
      } else if (v.persistentVolumeClaim) {
        // A claim of a StatefulSet pod (`<template>-<pod>`): that pod's volume directory.
        const claim = v.persistentVolumeClaim.claimName as string;
        const owner = [...this.statefulPods.values(), ...this.members.values()].find((p) => claim.endsWith(`-${p.name}`));
        if (!owner) throw new Error(`${m.name}: claim ${claim} belongs to no running StatefulSet pod`);
        const target = owner.volumeDir(claim.slice(0, claim.length - owner.name.length - 1));
        makeServiceDir(target);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(path.dirname(dir), { recursive: true });
        fs.symlinkSync(target, dir);
      } else if (v.secret) {
        // Key files 0600 and owned by the postgres user: in the pod they are root-owned 0640.
        makeServiceDir(dir, 0o755);
        const name = v.secret.secretName as string;
        const source = this.issuedSecretDir(name);
        const stored = this.kubeApi?.secrets.get(name);
        const given = this.options.userSecrets?.[name];
        let data: Record<string, string>;
        if (source) {
          data = Object.fromEntries(['tls.crt', 'tls.key', 'ca.crt'].map((k) => [k, fs.readFileSync(path.join(source, k), 'utf8')]));
        } else if (stored) {
          data = stored.data;
        } else if (given) {
          data = given;
        } else {
          throw new Error(`${m.name}: Secret ${name} is neither issued by a Certificate nor created by the credentials Job`);
        }
        const items = (v.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }))) as Array<{ key: string; path: string }>;
        for (const item of items) {
          if (!(item.key in data)) throw new Error(`${m.name}: Secret ${name} has no key ${item.key}`);
          // Certificates are public; keys and credentials are for the pod's user only.
          writeServiceFile(path.join(dir, item.path), data[item.key], item.key.endsWith('.crt') ? 0o644 : 0o600);
        }
      } else {
        throw new Error(`${m.name}: volume ${v.name} has a type the harness does not emulate`);
      }
    }
    // The volumeClaimTemplates: persist across restarts.
    const sts = objectsOfKind(this.manifests, 'StatefulSet').find((x) => x.metadata.name === m.statefulSet);
    for (const t of (sts?.spec.volumeClaimTemplates ?? []) as any[]) makeServiceDir(m.volumeDir(t.metadata.name));
  }

  /**
   * pgbackrest.conf as synthesized: a wildcard tls-server-address becomes the pod's IP and absolute
   * paths (not an object store's path in its bucket) become the volume directories. In a backup Job's file (it reaches the leader with
   * pg1-host), pg1-path and pg1-socket-path become the current leader's directories.
   */
  private adaptPgBackRestConfig(m: Member, text: string): string {
    const mounts = this.podMounts(m);
    const remote = /^pg1-host=/m.test(text) ? this.jobLeader : undefined;
    // An object store's repo<N>-path is a key prefix in its bucket, not a file system path.
    const objectStores = new Set([...text.matchAll(/^(repo\d+)-type=(s3|gcs|azure)$/gm)].map((x) => `${x[1]}-path`));
    return text.split('\n').map((line) => {
      const kv = /^([\w-]+)=(.*)$/.exec(line);
      if (!kv) return line;
      const [, key, value] = kv;
      if (objectStores.has(key)) return line;
      if (key === 'tls-server-address' && WILDCARD.test(value)) return `${key}=${m.host}`;
      if (remote && (key === 'pg1-path' || key === 'pg1-socket-path')) return `${key}=${this.hostPath(remote, this.podMounts(remote), value)}`;
      if (value.startsWith('/')) return `${key}=${this.hostPath(m, mounts, value)}`;
      return line;
    }).join('\n');
  }

  /** Every volume mount of every container of the pod. */
  private podMounts(m: Member): Array<{ name: string; mountPath: string }> {
    const all = [...(m.spec.initContainers ?? []), ...m.spec.containers].flatMap((c: Container) => c.volumeMounts ?? []);
    return [...new Map(all.map((x: any) => [x.mountPath, x])).values()] as Array<{ name: string; mountPath: string }>;
  }

  /** pgbouncer.ini as synthesized, with a wildcard listen_addr on the pod's IP and paths in its volumes. */
  private adaptPgBouncerConfig(m: Member, text: string): string {
    const mounts = m.mainContainer.volumeMounts ?? [];
    return text.split('\n').map((line) => {
      const kv = /^(\s*[\w.*-]+\s*=\s*)(.*)$/.exec(line);
      if (!kv) return line;
      const [, key, value] = kv;
      if (/^listen_addr\b/.test(key.trim()) && WILDCARD.test(value.trim())) return key + m.host;
      if (value.startsWith('/')) return key + this.hostPath(m, mounts, value);
      return line;
    }).join('\n');
  }

  /** The Patroni configuration as synthesized, changed only as ./differences.ts lists. */
  private adaptPatroniConfig(m: Member, yamlText: string): string {
    const cfg = parseYaml(yamlText);
    delete cfg.kubernetes;
    cfg.etcd3 = { hosts: [this.options.etcdEndpoint] };
    const mounts = this.mainMounts(m);
    const rewrite = (v: any): any => {
      if (typeof v === 'string' && v.startsWith('/')) return this.hostPath(m, mounts, v);
      if (Array.isArray(v)) return v.map(rewrite);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewrite(x)]));
      return v;
    };
    const out = rewrite(cfg);
    out.postgresql.bin_dir = HOST_BIN_DIR;
    out.restapi.listen = out.restapi.listen.replace(/^(0\.0\.0\.0|\*|::)?:/, `${m.host}:`);
    out.postgresql.listen = out.postgresql.listen.replace(/^(0\.0\.0\.0|\*|::)?:/, `${m.host}:`);
    return stringifyYaml(out);
  }

  private mainMounts(m: Member): Array<{ name: string; mountPath: string }> {
    return [...(m.mainContainer.volumeMounts ?? []), { name: 'scripts', mountPath: '/opt/cdk8s-postgres' }];
  }

  /** The container's environment as the kubelet resolves it, then changed as ./differences.ts lists. */
  private environment(m: Member, c: Container): Record<string, string> {
    const env: Record<string, string> = {};
    const mounts = c.volumeMounts ?? [];
    const isMember = this.members.has(m.name);
    const imageBinDir = isMember ? this.patroniConfigOf(m).postgresql.bin_dir as string : undefined;
    for (const e of (c.env ?? []) as any[]) {
      let value: string;
      if (e.value !== undefined) {
        value = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name) => env[name] ?? all);
      } else if (e.valueFrom?.fieldRef) {
        const field = e.valueFrom.fieldRef.fieldPath;
        value = field === 'metadata.name' ? m.name : field === 'metadata.namespace' ? 'default' : field === 'status.podIP' ? m.host : '';
        if (value === '') throw new Error(`${m.name}: fieldRef ${field} is not emulated`);
      } else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const given = this.options.userSecrets?.[ref.name];
        const secret = this.kubeApi?.secrets.get(ref.name) ?? (given ? { data: given } : undefined);
        if (!secret) throw new Error(`${m.name}: Secret ${ref.name} is neither created by the credentials Job nor supplied`);
        if (!(ref.key in secret.data)) throw new Error(`${m.name}: Secret ${ref.name} has no key ${ref.key}`);
        value = secret.data[ref.key];
      } else {
        throw new Error(`${m.name}: env ${e.name} has a source the harness does not emulate`);
      }
      env[e.name] = value;
    }
    for (const [k, v] of Object.entries(env)) {
      let out = v === imageBinDir ? HOST_BIN_DIR : v.startsWith('/') ? this.hostPath(m, mounts, v) : v;
      if (/LISTEN$/.test(k) && WILDCARD.test(v)) out = m.host;
      out = out.replace(/([?&]host=)(\/[^&]*)/, (_all, key, p) => `${key}${this.hostPath(m, mounts, p)}`);
      // Members only: a Job or Deployment pod keeps Service names, resolved through /etc/hosts
      // (verify-full checks the name against the server certificate).
      for (const [svc, { ip }] of isMember ? this.proxies : []) {
        if (out === svc || out.startsWith(`${svc}.`)) out = ip;
      }
      env[k] = out;
    }
    for (const k of Object.keys(env)) if (k.startsWith('PATRONI_KUBERNETES_')) delete env[k];
    return env;
  }

  private resolveCommand(m: Member, c: Container): { command: string; args: string[] } {
    const mounts = [...(c.volumeMounts ?? [])];
    const entrypoint = c.command ?? [imageEntrypoint(c.image)];
    const argv = [...entrypoint, ...(c.args ?? [])]
      .map((a: string) => (a.startsWith('/') ? this.hostPath(m, mounts, a) : a))
      .map((a: string) => a.replace(/^(--[\w.-]*listen[\w.-]*=)(0\.0\.0\.0|\*|::)?:(\d+)$/, `$1${m.host}:$3`))
      .map((a: string) => (a.includes('=/') ? a.replace(/=(\/.*)$/, (_x, p) => `=${this.hostPath(m, mounts, p)}`) : a));
    // Commands are absolute paths in the image (`/usr/bin/pgbouncer`): map them by their base name.
    const command = HOST_COMMANDS[argv[0].split('/').pop() ?? argv[0]] ?? argv[0];
    return { command, args: argv.slice(1) };
  }

  private async startMember(m: Member): Promise<void> {
    if (m.running) return;
    this.prepareVolumes(m);
    for (const init of (m.spec.initContainers ?? []) as Container[]) {
      const { command, args } = this.resolveCommand(m, init);
      const group = spawnGroup({
        name: `${m.name}-${init.name}`,
        command,
        args,
        env: this.environment(m, init),
        cwd: m.dir,
        logFile: path.join(m.dir, `${init.name}.log`),
      });
      await waitForGroupExit(group, 300_000);
      await killAndWait(group).catch(() => undefined);
      if (group.exitStatus !== 0) throw new Error(`${m.name}: init container ${init.name} exited with ${group.exitStatus}`);
    }
    // Kubernetes starts every container of the pod at once.
    for (const container of m.spec.containers as Container[]) {
      const { command, args } = this.resolveCommand(m, container);
      m.groups.set(container.name, spawnGroup({
        name: `${m.name}-${container.name}`,
        command,
        args,
        env: this.environment(m, container),
        cwd: m.dir,
        logFile: path.join(m.dir, `${container.name}.log`),
      }));
    }
    const c = m.mainContainer;
    // The startup probe gates the others, as in Kubernetes.
    const startup = c.startupProbe;
    if (!startup) return;
    await waitFor(async () => (await m.probe('startupProbe')).success || undefined,
      startup.periodSeconds * startup.failureThreshold * 1000, 200, `${m.name} startup probe`);
  }
}

export { waitFor };
