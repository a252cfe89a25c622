/**
 * The end-to-end suite's handle on the local Kubernetes cluster (test/kube/cluster.sh): real
 * kube-apiserver, controllers, scheduler, kube-proxy, CoreDNS and cert-manager; the node agent
 * stands in for the kubelet (test/kube/node-agent/differences.ts). Tests talk to it as a user
 * would: kubectl with server-side apply, and clients connecting to ClusterIPs and pod IPs.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { synthCluster } from './synth';
import { PostgresClusterProps } from '../../../src';
import { HttpsOptions, httpRequest } from '../lib/net';
import { PatroniMember } from '../lib/patroni';
import { PgTarget, psql } from '../lib/pg';
import { waitFor } from '../lib/processes';

const REPO = path.resolve(__dirname, '../../..');
const CLUSTER_SH = path.join(REPO, 'test/kube/cluster.sh');
const STATE = process.env.PGK_STATE ?? '/var/lib/cdk8s-pg-kube';
const AGENT = 'http://127.0.0.1:10350';

/** A Kubernetes object as JSON. */
export type Obj = { apiVersion: string; kind: string; metadata: any; spec?: any; status?: any; data?: any; [k: string]: any };

/** kubectl failed: its stderr is the API server's message. */
export class KubectlError extends Error {}

/** The running local cluster. */
export class KubeCluster {
  /**
   * Starts the cluster unless one is running; `started` says whether this process must stop it.
   * `ipFamily`: the pod network's families (cluster.sh's PGK_IP_FAMILY); a running cluster of
   * other families is refused rather than reused.
   */
  static up(ipFamily: 'ipv4' | 'ipv6' | 'dual' = 'ipv4'): KubeCluster {
    const running = fs.existsSync(path.join(STATE, 'admin.kubeconfig')) && isAlive(path.join(STATE, 'pids/kube-apiserver.pid'));
    if (running) {
      const file = path.join(STATE, 'ip-family');
      const runningFamily = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : 'ipv4';
      if (runningFamily !== ipFamily) throw new Error(`a ${runningFamily} test cluster is running; this suite needs ${ipFamily} (bash test/kube/cluster.sh down first)`);
    } else {
      execFileSync('bash', [CLUSTER_SH, 'up'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 1_800_000, env: { ...process.env, PGK_IP_FAMILY: ipFamily } });
    }
    return new KubeCluster(!running);
  }

  /** Pod readiness as the API server has it. */
  static isReady(pod: Obj): boolean {
    return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') && !pod.metadata.deletionTimestamp;
  }

  readonly kubeconfig = path.join(STATE, 'admin.kubeconfig');
  private readonly kubectlBin = path.join(fs.readFileSync(path.join(STATE, 'bin-dir'), 'utf8').trim(), 'kubectl');

  private constructor(readonly started: boolean) {}

  /** The process id of the running kube-apiserver (cluster.sh's pid file). */
  apiServerPid(): number {
    return Number(fs.readFileSync(path.join(STATE, 'pids/kube-apiserver.pid'), 'utf8'));
  }

  /** Stops the cluster if this process started it. */
  down(): void {
    if (this.started) execFileSync('bash', [CLUSTER_SH, 'down'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  }

  /** Runs kubectl; resolves to stdout, rejects with stderr. */
  kubectl(args: readonly string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.kubectlBin, ['--kubeconfig', this.kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
        (err, stdout, stderr) => (err ? reject(new KubectlError(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  /** A namespace that enforces the restricted Pod Security Standard, as the issue asks of every test. */
  async createNamespace(name: string): Promise<void> {
    await this.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } },
    }));
  }

  /** Server-side apply of a synthesized file into a namespace; a rejection throws with the API server's message. */
  async apply(file: string, namespace: string): Promise<string> {
    return this.kubectl(['apply', '--server-side', '--field-manager=cdk8s-e2e', '-n', namespace, '-f', file]);
  }

  async get(kind: string, name: string, namespace?: string): Promise<Obj> {
    return JSON.parse(await this.kubectl(['get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'json']));
  }

  async getOptional(kind: string, name: string, namespace?: string): Promise<Obj | undefined> {
    try {
      return await this.get(kind, name, namespace);
    } catch (err) {
      if (/NotFound|not found/.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  async list(kind: string, namespace: string, selector?: string): Promise<Obj[]> {
    const out = await this.kubectl(['get', kind, '-n', namespace, ...(selector ? ['-l', selector] : []), '-o', 'json']);
    return JSON.parse(out).items;
  }

  /** Decoded data of a Secret. */
  async secret(name: string, namespace: string): Promise<Record<string, string>> {
    const s = await this.get('secret', name, namespace);
    return Object.fromEntries(Object.entries<string>(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  /** Waits until `check` returns a value that is not undefined/false. */
  async until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, intervalMs = 250): Promise<T> {
    return waitFor(async () => {
      const v = await check();
      if (v === undefined || v === false) throw new Error(`not yet: ${what}`);
      return v;
    }, timeoutMs, intervalMs, what);
  }

  /** The pod IPs an EndpointSlice of the Service lists as ready. */
  async readyEndpoints(service: string, namespace: string): Promise<string[]> {
    const slices = await this.list('endpointslices', namespace, `kubernetes.io/service-name=${service}`);
    return slices.flatMap((s) => (s.endpoints ?? []).filter((e: any) => e.conditions?.ready).flatMap((e: any) => e.addresses)).sort();
  }

  /** Node loss: every process of the node's pods killed, network cut, heartbeats stopped. */
  async loseNode(node: string): Promise<void> {
    await agent('POST', `/nodes/${node}/lose`);
  }

  /** The lost node comes back: heartbeats again and its pods start again. */
  async restoreNode(node: string): Promise<void> {
    await agent('POST', `/nodes/${node}/restore`);
  }

  /** The audit log's entries (JSON lines) of the API server. */
  auditEvents(): any[] {
    return fs.readFileSync(path.join(STATE, 'logs/audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  /** The directory holding a pod's container logs on the node agent. */
  podLogDir(namespace: string, pod: Obj): string {
    return path.join(STATE, 'pods', `${namespace}_${pod.metadata.name}_${pod.metadata.uid.replace(/-/g, '').slice(0, 8)}`, 'logs');
  }

  /**
   * The log lines of every container of every pod the namespace ever had (deleted pods too) that
   * carry a timestamp (Patroni's, PostgreSQL's) between `fromMs` and `toMs`, in time order, each
   * prefixed with its pod and container: what the members did during a window a test measured.
   */
  logLinesBetween(namespace: string, fromMs: number, toMs: number): string[] {
    const root = path.join(STATE, 'pods');
    const out: Array<[number, string]> = [];
    for (const dir of fs.existsSync(root) ? fs.readdirSync(root).filter((d) => d.startsWith(`${namespace}_`)) : []) {
      const logs = path.join(root, dir, 'logs');
      for (const file of fs.existsSync(logs) ? fs.readdirSync(logs) : []) {
        for (const line of fs.readFileSync(path.join(logs, file), 'utf8').split('\n')) {
          const t = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:[.,]\d+)?)/.exec(line);
          if (!t) continue;
          const at = Date.parse(`${t[1]}T${t[2].replace(',', '.')}Z`);
          if (at >= fromMs && at <= toMs) out.push([at, `${dir.slice(namespace.length + 1)}/${file.replace(/\.log$/, '')}: ${line}`]);
        }
      }
    }
    return out.sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  }
}

function isAlive(pidFile: string): boolean {
  try {
    process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
}

async function agent(method: string, p: string): Promise<void> {
  const res = await fetch(`${AGENT}${p}`, { method });
  if (!res.ok) throw new Error(`node agent ${method} ${p}: ${res.status} ${await res.text()}`);
}

/** A synthesized cluster running in a namespace of the local Kubernetes cluster. */
export class KubePostgres {
  private apiTls?: HttpsOptions;

  constructor(readonly kube: KubeCluster, readonly namespace: string, readonly name: string) {}

  /** The member pods (both node sets), by name. */
  async pods(): Promise<Obj[]> {
    const pods = await this.kube.list('pods', this.namespace, `postgres.cdk8s.io/cluster=${this.name},app.kubernetes.io/name=postgresql`);
    return pods.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /** Patroni's REST API of a member pod, with the server certificate (the REST API asks for a client certificate on writes). */
  async member(pod: Obj): Promise<PatroniMember> {
    if (!this.apiTls) {
      const s = await this.kube.secret(`${this.name}-server-tls`, this.namespace);
      this.apiTls = { ca: s['ca.crt'], cert: s['tls.crt'], key: s['tls.key'] };
    }
    return { name: pod.metadata.name, host: pod.status.podIP, apiPort: 8008, pgPort: 5432, apiTls: this.apiTls };
  }

  async members(): Promise<PatroniMember[]> {
    return Promise.all((await this.pods()).filter((p) => p.status?.podIP).map((p) => this.member(p)));
  }

  /** The member Patroni labelled with the leader role, if exactly one is. */
  async labelledLeader(): Promise<Obj | undefined> {
    const leaders = (await this.pods()).filter((p) => p.metadata.labels?.['postgres.cdk8s.io/role'] === 'primary');
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** The superuser through a Service's ClusterIP (or any host), TLS required. */
  async superuserVia(service: string): Promise<PgTarget> {
    const svc = await this.kube.get('service', service, this.namespace);
    const password = (await this.kube.secret(`${this.name}-superuser`, this.namespace)).password;
    return { host: svc.spec.clusterIP, port: 5432, user: 'postgres', password, sslmode: 'require' };
  }

  async superuserAt(pod: Obj): Promise<PgTarget> {
    const password = (await this.kube.secret(`${this.name}-superuser`, this.namespace)).password;
    return { host: pod.status.podIP, port: 5432, user: 'postgres', password, sslmode: 'require' };
  }

  /**
   * Waits until every member pod is Ready, one of them is labelled leader, the read-write
   * Service's slice points at it, every other member streams from it, and (failsafe_mode) the
   * leader has recorded every member in its
   * failsafe topology: Patroni disqualifies a member missing there from the leader race, so until
   * the leader's next loop a member that just (re)started cannot take over.
   */
  async waitHealthy(members: number, timeoutMs = 300_000): Promise<Obj> {
    return this.kube.until(`${members} members Ready, a labelled leader behind ${this.name}-primary`, timeoutMs, async () => {
      const pods = await this.pods();
      if (pods.length !== members || !pods.every(KubeCluster.isReady)) return undefined;
      const leader = await this.labelledLeader();
      if (!leader) return undefined;
      // Only the leader's addresses (one slice per family of a dual-stack Service).
      const eps = await this.kube.readyEndpoints(`${this.name}-primary`, this.namespace);
      const leaderIps: string[] = (leader.status.podIPs ?? [{ ip: leader.status.podIP }]).map((a: any) => a.ip);
      if (eps.length === 0 || new Set(eps).size !== eps.length || !eps.every((ip) => leaderIps.includes(ip))) return undefined;
      const failsafe = (await this.failsafeMembers()) ?? pods.map((p) => p.metadata.name);
      if (!pods.every((p) => failsafe.includes(p.metadata.name))) return undefined;
      // Every other member streams from the leader (its pg_stat_replication, through Patroni).
      const status = await this.patroni(leader, '/patroni').catch(() => undefined);
      const streaming = new Set<string>((status && status.status === 200 ? JSON.parse(status.body).replication ?? [] : [])
        .filter((r: any) => r.state === 'streaming').map((r: any) => r.application_name));
      return pods.every((p) => p.metadata.name === leader.metadata.name || streaming.has(p.metadata.name)) ? leader : undefined;
    }, 500);
  }

  /** Members in the leader ConfigMap's failsafe annotation; undefined when failsafe_mode is off. */
  async failsafeMembers(): Promise<string[] | undefined> {
    const cm = await this.kube.getOptional('configmap', `${this.name}-leader`, this.namespace);
    const raw = cm?.metadata.annotations?.failsafe;
    return raw ? Object.keys(JSON.parse(raw)) : undefined;
  }

  /**
   * A switchover through the leader's REST API (with the cluster's client certificate); Patroni
   * answers once the candidate leads, which takes seconds, so the request may wait up to a minute.
   */
  async switchover(leader: Obj, candidate: Obj): Promise<{ status: number; body: string }> {
    const m = await this.member(leader);
    return httpRequest({
      host: m.host,
      port: m.apiPort,
      path: '/switchover',
      method: 'POST',
      tls: m.apiTls,
      timeoutMs: 60_000,
      json: { leader: leader.metadata.name, candidate: candidate.metadata.name },
    });
  }

  /** GET on a member's REST API. */
  async patroni(pod: Obj, p: string): Promise<{ status: number; body: string }> {
    const m = await this.member(pod);
    return httpRequest({ host: m.host, port: m.apiPort, path: p, tls: m.apiTls, timeoutMs: 3000 });
  }
}

/** Synthesizes a cluster, applies it into a fresh restricted namespace and waits until it is healthy. */
export async function deploy(kube: KubeCluster, workDir: string, namespace: string, name: string, props: PostgresClusterProps, members: number) {
  await kube.createNamespace(namespace);
  const file = synthCluster(path.join(workDir, namespace), name, props);
  const t0 = Date.now();
  await kube.apply(file, namespace);
  const pg = new KubePostgres(kube, namespace, name);
  const leader = await pg.waitHealthy(members);
  return { pg, file, leader, seconds: (Date.now() - t0) / 1000 };
}

/**
 * psql through a Service, retried only while the connection itself fails (never after a statement
 * ran): kube-proxy follows an EndpointSlice change within its sync period, so for a moment after a
 * slice changes (a new cluster's leader listed, a lost pod dropped) a connection may still be
 * refused or sent to the old endpoint.
 */
export async function psqlConnecting(target: PgTarget, sql: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await psql(target, sql, { connectTimeoutSec: 2 });
    } catch (err) {
      const connecting = /connection to server at .* failed: (timeout expired|Connection refused|No route to host)/.test(String((err as Error).message));
      if (!connecting || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
