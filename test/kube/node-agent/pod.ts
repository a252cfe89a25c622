/**
 * One pod on one emulated node, from sandbox to deletion, as the kubelet runs it: network
 * namespace, volumes, init containers in order, containers with restartPolicy and back-off,
 * startup/liveness/readiness probes with the manifest's timings, status written through the API,
 * SIGTERM then SIGKILL after terminationGracePeriodSeconds.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { HostPrograms, imageProfile } from './images';
import { familyOf, IpFamily } from './ip-families';
import { KubeClient, KubeError, KubeObject } from './kube-client';
import {
  cgroupPids, ContainerCgroups, createCgroups, createNetwork, killCgroup, MountPoints, oomKilled, PodNetwork,
  removeCgroups, removeNetwork, removePodCgroups, setLink,
} from './sandbox';
import { NotReadyYet, parseQuantity, prepareVolumes, PreparedVolume, releaseVolumes } from './volumes';

/** What every pod of the agent shares. */
export interface AgentContext {
  readonly api: KubeClient;
  readonly stateDir: string;
  readonly bridge: string;
  /** The bridge's address per family: the pods' default routes. */
  readonly gateways: Readonly<Record<IpFamily, string>>;
  /** The Nodes' addresses (every Node's are the host's), primary family first. */
  readonly hostIps: readonly string[];
  readonly dnsIp: string;
  readonly apiServiceIp: string;
  readonly host: HostPrograms;
  readonly mountPoints: MountPoints;
  readonly log: (msg: string) => void;
}

type Probe = any;

interface ContainerState {
  readonly spec: any;
  readonly init: boolean;
  cgroups?: ContainerCgroups;
  pid?: number;
  running: boolean;
  startedAt?: string;
  started: boolean;
  ready: boolean;
  restartCount: number;
  lastTerminated?: any;
  terminated?: any;
  waitingReason?: string;
  exitPromise?: Promise<void>;
  probeTimers: NodeJS.Timeout[];
  nextStartAt: number;
  backoffSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** A pod the agent runs. */
export class PodRunner {
  readonly uid: string;
  private readonly id: string;
  private readonly dir: string;
  private network?: PodNetwork;
  private volumes: PreparedVolume[] = [];
  private readonly containers: ContainerState[];
  private phase = 'Pending';
  private initialized = false;
  private stopping = false;
  private stopped = false;
  private refreshTimer?: NodeJS.Timeout;
  private statusDirty = true;
  private statusTimer?: NodeJS.Timeout;
  private readonly startTime = now();
  private message?: string;
  private readonly envCache = new Map<string, Record<string, string>>();

  constructor(private pod: KubeObject, readonly node: { name: string; index: number }, private readonly ips: readonly string[],
    private readonly ctx: AgentContext) {
    this.uid = pod.metadata.uid;
    this.id = this.uid.replace(/-/g, '').slice(0, 8);
    this.dir = path.join(ctx.stateDir, 'pods', `${pod.metadata.namespace}_${pod.metadata.name}_${this.id}`);
    const mk = (spec: any, init: boolean): ContainerState => ({
      spec, init, running: false, started: false, ready: false, restartCount: 0, probeTimers: [], nextStartAt: 0, backoffSeconds: 10,
    });
    this.containers = [...(pod.spec.initContainers ?? []).map((c: any) => mk(c, true)), ...pod.spec.containers.map((c: any) => mk(c, false))];
  }

  /** The primary pod IP. */
  private get ip(): string {
    return this.ips[0];
  }

  get name(): string {
    return `${this.pod.metadata.namespace}/${this.pod.metadata.name}`;
  }

  /** Runs the pod until it completes or is stopped. */
  async start(): Promise<void> {
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    this.statusTimer = setInterval(() => void this.flushStatus(), 500);
    try {
      const unsupported = unsupportedFields(this.pod);
      if (unsupported.length > 0) throw new Error(`the node agent does not support ${unsupported.join(', ')} (see node-agent/differences.ts)`);
      this.network = createNetwork(this.id, this.ips, this.ctx.bridge, this.ctx.gateways);
      this.writeIdentityFiles();
      this.statusDirty = true;
      for (;;) {
        if (this.stopping) return;
        try {
          this.volumes = await prepareVolumes({ api: this.ctx.api, pod: this.pod, podDir: this.dir, field: (f) => this.field(f) });
          break;
        } catch (err) {
          if (!(err instanceof NotReadyYet)) throw err;
          this.setWaiting('ContainerCreating', `FailedMount: ${err.message}`);
          await sleep(2000);
        }
      }
      await this.resolveEnvSources();
      this.message = undefined;
      this.refreshTimer = setInterval(() => void this.refreshVolumes(), 5000);
      await this.runInitContainers();
      if (this.stopping) return;
      this.initialized = true;
      this.phase = 'Running';
      this.statusDirty = true;
      await Promise.all(this.containers.filter((c) => !c.init).map((c) => this.superviseContainer(c)));
    } catch (err) {
      this.ctx.log(`pod ${this.name}: ${(err as Error).stack}`);
      this.message = (err as Error).message;
      this.phase = 'Failed';
      this.statusDirty = true;
    }
  }

  private setWaiting(reason: string, message: string) {
    for (const c of this.containers) c.waitingReason = reason;
    if (this.message !== message) {
      this.message = message;
      this.statusDirty = true;
    }
  }

  private async refreshVolumes() {
    for (const v of this.volumes) {
      if (!v.refresh) continue;
      try {
        await v.refresh();
      } catch (err) {
        this.ctx.log(`pod ${this.name}: refreshing volume ${v.name}: ${(err as Error).message}`);
      }
    }
  }

  private async runInitContainers(): Promise<void> {
    for (const c of this.containers.filter((x) => x.init)) {
      for (;;) {
        if (this.stopping) return;
        const code = await this.runOnce(c);
        if (code === 0) break;
        if (this.pod.spec.restartPolicy === 'Never') {
          this.phase = 'Failed';
          this.statusDirty = true;
          await new Promise(() => undefined); // stays failed until deleted
        }
        await this.backoff(c);
      }
    }
  }

  /** Runs a container, restarting it as restartPolicy says, until the pod stops or it completes. */
  private async superviseContainer(c: ContainerState): Promise<void> {
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    for (;;) {
      if (this.stopping) return;
      const code = await this.runOnce(c);
      if (this.stopping) return;
      if (policy === 'Never' || (policy === 'OnFailure' && code === 0)) {
        this.completeIfDone();
        return;
      }
      await this.backoff(c);
    }
  }

  private completeIfDone() {
    const main = this.containers.filter((x) => !x.init);
    if (main.every((x) => x.terminated)) {
      this.phase = main.every((x) => x.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
      this.statusDirty = true;
      this.releaseNetwork();
    }
  }

  /** The kubelet's crash-loop back-off: 10 s doubling to 5 min, reset after 10 min of running. */
  private async backoff(c: ContainerState) {
    c.waitingReason = 'CrashLoopBackOff';
    this.statusDirty = true;
    const wait = c.backoffSeconds;
    c.backoffSeconds = Math.min(300, c.backoffSeconds * 2);
    const until = Date.now() + wait * 1000;
    while (Date.now() < until && !this.stopping) await sleep(200);
  }

  /** Starts the container's process and resolves with its exit code. */
  private runOnce(c: ContainerState): Promise<number> {
    const spec = c.spec;
    const profile = imageProfile(spec.image, this.ctx.host);
    const limits = {
      memoryBytes: parseQuantity(spec.resources?.limits?.memory),
      cpuMillis: spec.resources?.limits?.cpu ? Math.round(parseQuantity(spec.resources.limits.cpu)! * 1000) : undefined,
    };
    c.cgroups = createCgroups(this.id, spec.name, limits);
    const argv = this.commandLine(spec, profile.entrypoint);
    const env = this.environment(spec, profile.path);
    const script = this.launchScript(spec, profile.binds);
    const scriptFile = path.join(this.dir, `run-${spec.name}.sh`);
    fs.writeFileSync(scriptFile, script, { mode: 0o700 });
    const logFile = path.join(this.dir, 'logs', `${spec.name}.log`);
    const fd = fs.openSync(logFile, 'a');
    const cgJoin = [c.cgroups.unified, ...c.cgroups.v1].map((d) => `echo $$ > ${d}/cgroup.procs`).join('; ');
    const child = spawn('/bin/sh', ['-c', `${cgJoin}; exec /usr/bin/nsenter --net=/run/netns/${this.network!.netns} -- /usr/bin/unshare --mount --uts --propagation private -- /bin/sh "$0" "$@"`,
      scriptFile, ...argv], { env, detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    c.pid = child.pid;
    c.running = true;
    c.started = false;
    c.ready = false;
    c.startedAt = now();
    c.waitingReason = undefined;
    c.terminated = undefined;
    this.statusDirty = true;
    const startedMs = Date.now();
    if (!c.init) this.startProbes(c);
    return new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        void (async () => {
          // The main process is gone: what it left in the cgroup goes with it, as with a container.
          killCgroup(c.cgroups!);
          for (let i = 0; i < 50 && cgroupPids(c.cgroups!).length > 0; i++) await sleep(100);
          this.stopProbes(c);
          const exitCode = code ?? (signal ? 128 + (signalNumber(signal) ?? 9) : 1);
          const oom = oomKilled(c.cgroups!);
          removeCgroups(c.cgroups!);
          c.running = false;
          c.ready = false;
          c.terminated = {
            exitCode,
            reason: oom ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error',
            startedAt: c.startedAt,
            finishedAt: now(),
            containerID: `pgk://${this.id}-${spec.name}`,
          };
          if (Date.now() - startedMs > 600_000) c.backoffSeconds = 10;
          c.lastTerminated = c.terminated;
          const policy = this.pod.spec.restartPolicy ?? 'Always';
          const willRestart = !this.stopping && (policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0) || (c.init && exitCode !== 0 && policy !== 'Never'));
          if (willRestart) c.restartCount++;
          this.statusDirty = true;
          this.ctx.log(`pod ${this.name}: container ${spec.name} exited ${exitCode}${signal ? ` (${signal})` : ''}${oom ? ' OOMKilled' : ''}`);
          resolve(exitCode);
        })();
      });
    });
  }

  /** command + args with $(VAR) references expanded from the container's environment. */
  private commandLine(spec: any, entrypoint: readonly string[]): string[] {
    const env = this.containerEnv(spec);
    const expand = (s: string) => expandVars(s, env);
    const command: string[] = spec.command ?? [...entrypoint];
    if (command.length === 0) throw new Error(`container ${spec.name}: no command and the image has no entrypoint`);
    return [...command, ...(spec.args ?? [])].map(expand);
  }

  private environment(spec: any, imagePath: string): Record<string, string> {
    return { PATH: imagePath, HOSTNAME: this.hostname(), ...this.containerEnv(spec) };
  }

  /** The container's environment: the kubelet's Service variables, envFrom, then env, in order. */
  private containerEnv(spec: any): Record<string, string> {
    const cached = this.envCache.get(spec.name);
    if (cached) return cached;
    // As the kubelet writes them: an IPv6 address in brackets in the URL forms.
    const apiHostPort = `${familyOf(this.ctx.apiServiceIp) === 'IPv6' ? `[${this.ctx.apiServiceIp}]` : this.ctx.apiServiceIp}:443`;
    const env: Record<string, string> = {
      KUBERNETES_SERVICE_HOST: this.ctx.apiServiceIp,
      KUBERNETES_SERVICE_PORT: '443',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      KUBERNETES_PORT: `tcp://${apiHostPort}`,
      KUBERNETES_PORT_443_TCP: `tcp://${apiHostPort}`,
      KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
      KUBERNETES_PORT_443_TCP_PORT: '443',
      KUBERNETES_PORT_443_TCP_ADDR: this.ctx.apiServiceIp,
    };
    for (const e of spec.__resolvedEnvFrom ?? []) Object.assign(env, e);
    for (const e of spec.env ?? []) {
      if (e.value !== undefined) env[e.name] = expandVars(e.value, env);
      else if (e.valueFrom?.fieldRef) env[e.name] = this.field(e.valueFrom.fieldRef.fieldPath);
      else if (e.valueFrom?.__resolved !== undefined) env[e.name] = e.valueFrom.__resolved;
      else if (e.valueFrom?.resourceFieldRef) env[e.name] = resourceField(spec, e.valueFrom.resourceFieldRef);
      else if (e.valueFrom) throw new Error(`env ${e.name}: unresolved ${JSON.stringify(e.valueFrom)}`);
    }
    this.envCache.set(spec.name, env);
    return env;
  }

  /** Resolves secretKeyRef/configMapKeyRef and envFrom through the API (before any container starts). */
  async resolveEnvSources(): Promise<void> {
    const ns = this.pod.metadata.namespace;
    for (;;) {
      try {
        for (const c of this.containers) {
          for (const e of c.spec.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
            if (!ref) continue;
            const secret = Boolean(e.valueFrom.secretKeyRef);
            const obj = await this.ctx.api.getOptional(`/api/v1/namespaces/${ns}/${secret ? 'secrets' : 'configmaps'}/${ref.name}`);
            const raw = obj?.data?.[ref.key];
            if (raw === undefined) {
              if (ref.optional) continue;
              throw new NotReadyYet(`CreateContainerConfigError: ${secret ? 'secret' : 'configmap'} "${ref.name}" key "${ref.key}" not found`);
            }
            e.valueFrom.__resolved = secret ? Buffer.from(raw, 'base64').toString('utf8') : raw;
          }
          const from: Array<Record<string, string>> = [];
          for (const src of c.spec.envFrom ?? []) {
            const ref = src.secretRef ?? src.configMapRef;
            const secret = Boolean(src.secretRef);
            const obj = await this.ctx.api.getOptional(`/api/v1/namespaces/${ns}/${secret ? 'secrets' : 'configmaps'}/${ref.name}`);
            if (!obj) {
              if (ref.optional) continue;
              throw new NotReadyYet(`CreateContainerConfigError: ${ref.name} not found`);
            }
            const vals: Record<string, string> = {};
            for (const [k, v] of Object.entries<string>(obj.data ?? {})) vals[`${src.prefix ?? ''}${k}`] = secret ? Buffer.from(v, 'base64').toString('utf8') : v;
            from.push(vals);
          }
          c.spec.__resolvedEnvFrom = from;
        }
        return;
      } catch (err) {
        if (!(err instanceof NotReadyYet) || this.stopping) throw err;
        this.setWaiting('CreateContainerConfigError', err.message);
        await sleep(2000);
      }
    }
  }

  /** The shell script that sets up the container's mount namespace and execs the command as its user. */
  private launchScript(spec: any, binds: ReadonlyArray<{ host: string; container: string }>): string {
    const q = (s: string) => `'${s.replace(/'/g, '\'\\\'\'')}'`;
    const lines = ['set -e', `/usr/bin/hostname ${q(this.hostname())}`];
    const bind = (src: string, target: string, ro: boolean, file: boolean) => {
      this.ctx.mountPoints.ensure(target, file);
      lines.push(`/usr/bin/mount --bind ${q(src)} ${q(target)}`);
      if (ro) lines.push(`/usr/bin/mount -o remount,bind,ro ${q(target)}`);
    };
    for (const b of binds) bind(b.host, b.container, true, fs.statSync(b.host).isFile());
    for (const f of ['passwd', 'group', 'hosts', 'resolv.conf', 'hostname']) bind(path.join(this.dir, 'etc', f), `/etc/${f}`, true, true);
    const mounts = (spec.volumeMounts ?? []).map((m: any) => {
      const vol = this.volumes.find((v) => v.name === m.name);
      if (!vol) throw new Error(`container ${spec.name}: volumeMount ${m.name} has no volume`);
      return { m, src: m.subPath ? path.join(vol.hostPath, m.subPath) : vol.hostPath };
    });
    // A mount whose target holds another mount's source (e.g. /tmp over the host-path volumes
    // under /tmp) goes after it, or it would hide that source.
    const hides = (target: string) => mounts.some((o: any) => o.src === target || o.src.startsWith(`${target}/`));
    mounts.sort((a: any, b: any) => Number(hides(a.m.mountPath)) - Number(hides(b.m.mountPath)));
    for (const { m, src } of mounts) bind(src, m.mountPath, Boolean(m.readOnly), fs.statSync(src).isFile());
    const sc = { ...(this.pod.spec.securityContext ?? {}), ...(spec.securityContext ?? {}) };
    if (sc.readOnlyRootFilesystem) lines.push('/usr/bin/mount -o remount,bind,ro /');
    const uid = sc.runAsUser ?? 0;
    const gid = sc.runAsGroup ?? uid;
    const groups = [gid, ...(this.pod.spec.securityContext?.fsGroup !== undefined ? [this.pod.spec.securityContext.fsGroup] : []),
      ...(this.pod.spec.securityContext?.supplementalGroups ?? [])];
    if (spec.workingDir) lines.push(`cd ${q(spec.workingDir)}`);
    else lines.push('cd /');
    const home = uid === 26 ? '/var/lib/pgsql' : uid === 0 ? '/root' : '/';
    lines.push(`export HOME=${q(home)}`);
    const nnp = sc.allowPrivilegeEscalation === false ? ' --no-new-privs' : '';
    const caps = (sc.capabilities?.drop ?? []).includes('ALL') ? ' --inh-caps=-all --bounding-set=-all' : '';
    lines.push(`exec /usr/bin/setpriv --reuid=${uid} --regid=${gid} --groups=${[...new Set(groups)].join(',')}${nnp}${caps} -- "$@"`);
    return `${lines.join('\n')}\n`;
  }

  /** /etc files of the pod: hosts with its own name, resolv.conf to cluster DNS, passwd with the image's users. */
  private writeIdentityFiles() {
    const etc = path.join(this.dir, 'etc');
    fs.mkdirSync(etc, { recursive: true });
    const ns = this.pod.metadata.namespace;
    const sub = this.pod.spec.subdomain;
    const fqdn = sub ? `${this.hostname()}.${sub}.${ns}.svc.cluster.local` : '';
    fs.writeFileSync(path.join(etc, 'hosts'), `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${this.ips.map((ip) => `${ip}\t${fqdn ? `${fqdn}\t` : ''}${this.hostname()}\n`).join('')}`);
    fs.writeFileSync(path.join(etc, 'resolv.conf'), `search ${ns}.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${this.ctx.dnsIp}\noptions ndots:5\n`);
    fs.writeFileSync(path.join(etc, 'hostname'), `${this.hostname()}\n`);
    // The images run PostgreSQL as postgres with uid/gid 26 (UBI's postgres user).
    const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n').filter((l) => l && !l.startsWith('postgres:'));
    passwd.push('postgres:x:26:26:PostgreSQL Server:/var/lib/pgsql:/bin/bash');
    fs.writeFileSync(path.join(etc, 'passwd'), `${passwd.join('\n')}\n`);
    const group = fs.readFileSync('/etc/group', 'utf8').split('\n').filter((l) => l && !l.startsWith('postgres:'));
    group.push('postgres:x:26:');
    fs.writeFileSync(path.join(etc, 'group'), `${group.join('\n')}\n`);
    for (const f of fs.readdirSync(etc)) fs.chmodSync(path.join(etc, f), 0o644);
  }

  private hostname(): string {
    return this.pod.spec.hostname ?? this.pod.metadata.name;
  }

  /** Downward API fields. */
  field(fieldPath: string): string {
    const m = this.pod.metadata;
    const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
    if (label) return m.labels?.[label[1]] ?? '';
    const ann = /^metadata\.annotations\['(.+)'\]$/.exec(fieldPath);
    if (ann) return m.annotations?.[ann[1]] ?? '';
    switch (fieldPath) {
      case 'metadata.name': return m.name;
      case 'metadata.namespace': return m.namespace;
      case 'metadata.uid': return m.uid;
      case 'spec.nodeName': return this.pod.spec.nodeName;
      case 'spec.serviceAccountName': return this.pod.spec.serviceAccountName ?? 'default';
      case 'status.podIP': return this.ip;
      case 'status.podIPs': return this.ips.join(',');
      case 'status.hostIP': return this.ctx.hostIps[0];
      case 'status.hostIPs': return this.ctx.hostIps.join(',');
      default: throw new Error(`fieldRef ${fieldPath} is not supported by the node agent`);
    }
  }

  private startProbes(c: ContainerState) {
    const spec = c.spec;
    const startup: Probe | undefined = spec.startupProbe;
    const begin = (p: Probe, onResult: (ok: boolean) => void) => {
      let successes = 0;
      let failures = 0;
      const tick = async () => {
        if (!c.running) return;
        const ok = await this.probe(spec, p);
        if (!c.running) return;
        if (ok) {
          successes++;
          failures = 0;
          if (successes >= (p.successThreshold ?? 1)) onResult(true);
        } else {
          failures++;
          successes = 0;
          if (failures >= (p.failureThreshold ?? 3)) onResult(false);
        }
        c.probeTimers.push(setTimeout(() => void tick(), (p.periodSeconds ?? 10) * 1000));
      };
      c.probeTimers.push(setTimeout(() => void tick(), (p.initialDelaySeconds ?? 0) * 1000));
    };
    const afterStartup = () => {
      c.started = true;
      this.statusDirty = true;
      if (spec.readinessProbe) {
        begin(spec.readinessProbe, (ok) => {
          if (c.ready !== ok) {
            c.ready = ok;
            this.statusDirty = true;
          }
        });
      } else {
        c.ready = true;
        this.statusDirty = true;
      }
      if (spec.livenessProbe) {
        begin(spec.livenessProbe, (ok) => {
          if (!ok) {
            this.ctx.log(`pod ${this.name}: container ${spec.name} failed its liveness probe; killing it`);
            void this.stopContainer(c, spec.livenessProbe.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30);
          }
        });
      }
    };
    if (startup) {
      let done = false;
      begin(startup, (ok) => {
        if (done) return;
        if (ok) {
          done = true;
          this.stopProbes(c);
          afterStartup();
        } else {
          done = true;
          this.ctx.log(`pod ${this.name}: container ${spec.name} failed its startup probe; killing it`);
          void this.stopContainer(c, this.pod.spec.terminationGracePeriodSeconds ?? 30);
        }
      });
    } else {
      afterStartup();
    }
  }

  private stopProbes(c: ContainerState) {
    for (const t of c.probeTimers) clearTimeout(t);
    c.probeTimers = [];
  }

  private port(spec: any, port: number | string): number {
    if (typeof port === 'number') return port;
    if (/^\d+$/.test(port)) return Number(port);
    const found = (spec.ports ?? []).find((p: any) => p.name === port);
    if (!found) throw new Error(`container ${spec.name}: no port named ${port}`);
    return found.containerPort;
  }

  /** One probe from the node (the host), as the kubelet's prober: HTTP(S) GET 200-399, TCP connect, or exec exit 0. */
  private async probe(spec: any, p: Probe): Promise<boolean> {
    const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
    try {
      if (p.httpGet) {
        const port = this.port(spec, p.httpGet.port);
        const lib = p.httpGet.scheme === 'HTTPS' ? https : http;
        return await new Promise<boolean>((resolve) => {
          const req = (lib as typeof https).request({
            host: p.httpGet.host ?? this.ip,
            port,
            path: p.httpGet.path ?? '/',
            method: 'GET',
            timeout: timeoutMs,
            rejectUnauthorized: false,
            headers: Object.fromEntries((p.httpGet.httpHeaders ?? []).map((h: any) => [h.name, h.value])),
          }, (res) => {
            res.resume();
            resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
          });
          req.on('timeout', () => {
            req.destroy();
            resolve(false);
          });
          req.on('error', () => resolve(false));
          req.end();
        });
      }
      if (p.tcpSocket) {
        const port = this.port(spec, p.tcpSocket.port);
        return await new Promise<boolean>((resolve) => {
          const s = net.connect({ host: p.tcpSocket.host ?? this.ip, port, timeout: timeoutMs });
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('timeout', () => {
            s.destroy();
            resolve(false);
          });
          s.once('error', () => resolve(false));
        });
      }
    } catch (err) {
      this.ctx.log(`pod ${this.name}: probe: ${(err as Error).message}`);
      return false;
    }
    return false;
  }

  /** SIGTERM to the container's process, SIGKILL to all of it after `graceSeconds`. */
  private async stopContainer(c: ContainerState, graceSeconds: number): Promise<void> {
    if (!c.running || !c.pid) return;
    try {
      process.kill(c.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const until = Date.now() + graceSeconds * 1000;
    while (c.running && Date.now() < until) await sleep(100);
    if (c.running && c.cgroups) killCgroup(c.cgroups);
    while (c.running) await sleep(50);
  }

  /** Graceful stop (pod deletion): every container gets SIGTERM, SIGKILL after the grace period. */
  async stop(graceSeconds: number): Promise<void> {
    if (this.stopped) return;
    this.stopping = true;
    await Promise.all(this.containers.map((c) => this.stopContainer(c, graceSeconds)));
    this.finish();
  }

  /** Node loss: kill -9 of every process, network down, no more status. */
  kill(): void {
    this.stopping = true;
    this.stopped = true;
    if (this.network) setLink(this.network, false);
    for (const c of this.containers) if (c.cgroups) killCgroup(c.cgroups);
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
  }

  /** Removes what the pod made on the node once its processes are gone. */
  async release(): Promise<void> {
    for (let i = 0; i < 100 && this.containers.some((c) => c.running); i++) await sleep(50);
    this.finish();
  }

  private finish() {
    this.stopped = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    for (const c of this.containers) this.stopProbes(c);
    this.releaseNetwork();
    releaseVolumes(this.volumes);
    removePodCgroups(this.id);
  }

  private releaseNetwork() {
    if (this.network) removeNetwork(this.network);
    this.network = undefined;
  }

  /** The pod object changed on the server (labels, annotations, deletion). */
  update(pod: KubeObject) {
    this.pod = { ...pod, spec: this.pod.spec };
  }

  private async flushStatus() {
    if (!this.statusDirty || this.stopped) return;
    this.statusDirty = false;
    try {
      await this.ctx.api.strategicPatch(`/api/v1/namespaces/${this.pod.metadata.namespace}/pods/${this.pod.metadata.name}/status`, { status: this.status() });
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return;
      this.statusDirty = true;
      this.ctx.log(`pod ${this.name}: status: ${(err as Error).message}`);
    }
  }

  private containerStatus(c: ContainerState) {
    let state: any;
    if (c.running) state = { running: { startedAt: c.startedAt } };
    else if (c.terminated && !c.waitingReason) state = { terminated: c.terminated };
    else state = { waiting: { reason: c.waitingReason ?? 'ContainerCreating', ...(this.message ? { message: this.message } : {}) } };
    return {
      name: c.spec.name,
      image: c.spec.image,
      imageID: c.spec.image,
      ready: c.ready,
      started: c.init ? undefined : c.started,
      restartCount: c.restartCount,
      state,
      lastState: c.lastTerminated && c.running ? { terminated: c.lastTerminated } : {},
      ...(c.running || c.terminated ? { containerID: `pgk://${this.id}-${c.spec.name}` } : {}),
    };
  }

  private status() {
    const main = this.containers.filter((c) => !c.init);
    const containersReady = this.phase === 'Running' && main.every((c) => c.ready);
    const gates = (this.pod.spec.readinessGates ?? []).every((g: any) =>
      (this.pod.status?.conditions ?? []).some((cond: any) => cond.type === g.conditionType && cond.status === 'True'));
    const cond = (type: string, ok: boolean, reason?: string) => ({
      type,
      status: ok ? 'True' : 'False',
      lastTransitionTime: now(),
      ...(ok || !reason ? {} : { reason }),
    });
    const previous = new Map<string, any>((this.pod.status?.conditions ?? []).map((x: any) => [x.type, x]));
    const keep = (x: any) => (previous.get(x.type)?.status === x.status ? { ...x, lastTransitionTime: previous.get(x.type).lastTransitionTime } : x);
    const conditions = [
      cond('PodReadyToStartContainers', this.network !== undefined || this.phase === 'Succeeded'),
      cond('Initialized', this.initialized, 'ContainersNotInitialized'),
      cond('ContainersReady', containersReady, 'ContainersNotReady'),
      cond('Ready', containersReady && gates, 'ContainersNotReady'),
    ].map(keep);
    return {
      phase: this.phase,
      hostIP: this.ctx.hostIps[0],
      hostIPs: this.ctx.hostIps.map((ip) => ({ ip })),
      podIP: this.ip,
      podIPs: this.ips.map((ip) => ({ ip })),
      startTime: this.startTime,
      conditions,
      ...(this.message && this.phase === 'Failed' ? { message: this.message } : {}),
      initContainerStatuses: this.containers.filter((c) => c.init).map((c) => this.containerStatus(c)),
      containerStatuses: main.map((c) => this.containerStatus(c)),
      qosClass: this.pod.status?.qosClass,
    };
  }
}

/** Pod fields the agent does not implement: the pod fails with their names instead of running differently. */
export function unsupportedFields(pod: KubeObject): string[] {
  const out: string[] = [];
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  for (const c of all) {
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      if (c[probe]?.exec) out.push(`${c.name}.${probe}.exec`);
      if (c[probe]?.grpc) out.push(`${c.name}.${probe}.grpc`);
    }
    if (c.lifecycle) out.push(`${c.name}.lifecycle`);
    if (c.restartPolicy) out.push(`${c.name}.restartPolicy (sidecar containers)`);
  }
  if (pod.spec.ephemeralContainers) out.push('ephemeralContainers');
  if (pod.spec.hostNetwork || pod.spec.hostPID || pod.spec.hostIPC) out.push('host namespaces');
  return out;
}

function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) => (m === '$$' ? '$' : name in env ? env[name] : m));
}

function resourceField(spec: any, ref: any): string {
  const [kind, res] = String(ref.resource).split('.');
  const q = parseQuantity(spec.resources?.[kind]?.[res]);
  if (q === undefined) return '0';
  const divisor = parseQuantity(ref.divisor ?? '1') ?? 1;
  return String(Math.ceil(q / divisor));
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 } as Record<string, number>)[sig];
}
