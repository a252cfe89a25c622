/**
 * Helpers of the heartbeat, monitoring and node-config suites on the local Kubernetes cluster:
 * watching objects through the API server (to time readiness changes as the API reports them),
 * the Prometheus Operator's CRDs from their Go module, Prometheus text parsing, and the main
 * process of a container the node agent runs (to signal it as a container runtime would).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KubeCluster, Obj } from './kube';

const REPO = path.resolve(__dirname, '../../..');

/**
 * Installs the Prometheus Operator's CRDs, taken from its Go module at the version
 * test/kube/versions.env pins (test/kube/prometheus-operator-crds.sh), and waits until they are
 * Established. Applied with kubectl's default field manager, as an operator installs them.
 */
export async function installPrometheusOperatorCrds(kube: KubeCluster): Promise<string> {
  const dir = execFileSync('bash', [path.join(REPO, 'test/kube/prometheus-operator-crds.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  await kube.kubectl(['apply', '--server-side', '-f', dir]);
  const names = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => parseYaml(fs.readFileSync(path.join(dir, f), 'utf8')).metadata.name as string);
  await kube.kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', ...names.map((n) => `crd/${n}`)]);
  return dir;
}

/** One event of a watch, with the time this process received it. */
export interface WatchEvent {
  readonly at: number;
  readonly type: string;
  readonly object: Obj;
}

/**
 * A watch through the API server (newline-delimited JSON events), authenticated with the admin
 * kubeconfig's client certificate. Keeps every object's latest state by name and every event's
 * receive time, so a test can ask when the API first reported a state.
 */
export class ApiWatch {
  /** Opens a watch of a collection path such as `/api/v1/namespaces/<ns>/pods`; resolves once the API server answered. */
  static async open(kube: KubeCluster, collection: string, labelSelector?: string): Promise<ApiWatch> {
    const cfg = parseYaml(fs.readFileSync(kube.kubeconfig, 'utf8'));
    const server = new URL(cfg.clusters[0].cluster.server);
    const user = cfg.users[0].user;
    const w = new ApiWatch();
    const query = `?watch=1&allowWatchBookmarks=false${labelSelector ? `&labelSelector=${encodeURIComponent(labelSelector)}` : ''}`;
    await new Promise<void>((resolve, reject) => {
      const req = https.request({
        host: server.hostname,
        port: Number(server.port || 443),
        path: `${collection}${query}`,
        method: 'GET',
        ca: fs.readFileSync(cfg.clusters[0].cluster['certificate-authority']),
        cert: fs.readFileSync(user['client-certificate']),
        key: fs.readFileSync(user['client-key']),
      }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch ${collection}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) w.receive(JSON.parse(line));
          }
        });
        res.on('end', () => { w.ended = true; });
        resolve();
      });
      req.on('error', (err) => (w.request ? (w.ended = true) : reject(err)));
      req.end();
      w.request = req;
    });
    return w;
  }

  readonly events: WatchEvent[] = [];
  /** The latest state of every object after each event (same index as `events`). */
  private readonly states: Array<ReadonlyMap<string, Obj>> = [];
  private readonly current = new Map<string, Obj>();
  private request?: ReturnType<typeof https.request>;
  private ended = false;

  private constructor() {}

  private receive(ev: { type: string; object: Obj }) {
    const at = Date.now();
    if (ev.type === 'ERROR') {
      // An expired or failed watch: `when` then fails naming what it waited for.
      this.ended = true;
      return;
    }
    if (ev.type === 'DELETED') this.current.delete(ev.object.metadata.name);
    else this.current.set(ev.object.metadata.name, ev.object);
    this.events.push({ at, type: ev.type, object: ev.object });
    this.states.push(new Map(this.current));
  }

  /** The objects as last reported. */
  latest(): ReadonlyMap<string, Obj> {
    return this.current;
  }

  /**
   * Resolves with the receive time of the first event after `since` (ms since the epoch) whose
   * resulting state satisfies `check`; or `since` itself if the state at `since` already does.
   */
  async when(what: string, since: number, check: (objects: ReadonlyMap<string, Obj>) => boolean, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const first = this.events.findIndex((e) => e.at > since);
      const after = first < 0 ? this.events.length : first;
      if (after > 0 && check(this.states[after - 1])) return since;
      for (let i = after; i < this.events.length; i++) if (check(this.states[i])) return this.events[i].at;
      if (this.ended) throw new Error(`the watch ended before ${what}`);
      if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (as the API reports it)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every state reported since `since`, for "never" assertions. */
  statesSince(since: number): Array<ReadonlyMap<string, Obj>> {
    return this.states.filter((_, i) => this.events[i].at > since);
  }

  close(): void {
    this.ended = true;
    this.request?.destroy();
  }
}

/** The pod's Ready condition as the API reports it. */
export function podReady(pod: Obj | undefined): boolean {
  return Boolean(pod && KubeCluster.isReady(pod));
}

/** Addresses an EndpointSlice set lists as ready. */
export function readyAddresses(slices: ReadonlyMap<string, Obj>): string[] {
  return [...slices.values()]
    .flatMap((s) => (s.endpoints ?? []).filter((e: any) => e.conditions?.ready).flatMap((e: any) => e.addresses as string[]))
    .sort();
}

/** A container's status in a pod. */
export function containerStatus(pod: Obj, container: string): any {
  return (pod.status?.containerStatuses ?? []).find((c: any) => c.name === container);
}

/**
 * The main process of a running container of a pod the node agent runs: the one process of its
 * cgroup (`pgk/<pod uid, 8 hex>/<container>`, test/kube/node-agent/sandbox.ts), which is the
 * container's command after the agent's launch script exec'd it. Signalling it is what a
 * container runtime does when the kubelet stops a container.
 */
export function containerMainPid(pod: Obj, container: string): number {
  const dir = `/sys/fs/cgroup/unified/pgk/${pod.metadata.uid.replace(/-/g, '').slice(0, 8)}/${container}`;
  const pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  if (pids.length !== 1) throw new Error(`container ${container} of ${pod.metadata.name}: ${pids.length} processes in ${dir}, expected its main process alone`);
  return pids[0];
}

/** Whether a process exists (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Prometheus text exposition format, checked strictly: every line a `# HELP`/`# TYPE` comment or
 * a sample `name{labels} value` of a family with a TYPE line, values numbers (or NaN, +Inf, -Inf, as
 * the format allows). Returns the
 * samples by `name{labels}`, or throws naming the first invalid line.
 */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const lines = text.replace(/\n$/, '').split('\n');
  const typed = new Set<string>();
  for (const line of lines) {
    const type = /^# TYPE ([a-zA-Z_:][\w:]*) (gauge|counter|untyped|histogram|summary)$/.exec(line);
    if (type) {
      typed.add(type[1]);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][\w:]* .*$/.test(line)) continue;
    if (line.startsWith('#')) throw new Error(`invalid comment line: ${line}`);
    const m = /^([a-zA-Z_:][\w:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? (\S+)( -?\d+)?$/.exec(line);
    const special: Record<string, number> = { 'NaN': NaN, '+Inf': Infinity, '-Inf': -Infinity };
    const value = m ? (m[3] in special ? special[m[3]] : Number(m[3])) : NaN;
    if (!m || (Number.isNaN(value) && m[3] !== 'NaN')) throw new Error(`invalid sample line: ${JSON.stringify(line)}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    if (!typed.has(m[1]) && !typed.has(family)) throw new Error(`sample of a family without a TYPE line: ${line}`);
    samples.set(m[1] + (m[2] ?? ''), value);
  }
  return samples;
}
