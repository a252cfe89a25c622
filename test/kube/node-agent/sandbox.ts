/**
 * The pieces of a pod sandbox the node agent makes with the kernel's own tools: a network
 * namespace with a veth on the cluster's bridge, cgroups per container (v2 to hold and kill every
 * process, v1 memory and cpu for the limits), and mount points on the host root file system for
 * the container's private mount namespace to bind volumes onto.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bridgePrefix, familyOf, IpFamily } from './ip-families';

/** Runs a command, throwing with its stderr on failure. */
export function run(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args as string[], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err: any) {
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr || err.message).toString().trim()}`);
  }
}

/** Like {@link run} but ignores failure (cleanup of what may already be gone). */
export function tryRun(cmd: string, args: readonly string[]): void {
  try {
    run(cmd, args);
  } catch {
    // already gone
  }
}

/** A pod's network: namespace name, host-side veth, addresses (primary first). */
export interface PodNetwork {
  readonly netns: string;
  readonly hostVeth: string;
  readonly ips: readonly string[];
}

/**
 * Creates the pod's network namespace with `ips` on eth0 (one per family), each family routed
 * through the bridge's gateway of that family.
 */
export function createNetwork(id: string, ips: readonly string[], bridge: string, gateways: Readonly<Record<IpFamily, string>>): PodNetwork {
  const netns = `pgk-${id}`;
  const hostVeth = `pgkv${id}`.slice(0, 15);
  const peer = `pgkp${id}`.slice(0, 15);
  tryRun('ip', ['netns', 'del', netns]);
  tryRun('ip', ['link', 'del', hostVeth]);
  run('ip', ['netns', 'add', netns]);
  run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', peer]);
  run('ip', ['link', 'set', peer, 'netns', netns]);
  run('ip', ['link', 'set', hostVeth, 'master', bridge]);
  // A pod reaching itself through a Service goes out and back in on the same bridge port.
  run('ip', ['link', 'set', hostVeth, 'type', 'bridge_slave', 'hairpin', 'on']);
  run('ip', ['link', 'set', hostVeth, 'up']);
  const inNs = (args: string[]) => run('ip', ['-n', netns, ...args]);
  inNs(['link', 'set', peer, 'name', 'eth0']);
  for (const ip of ips) {
    const family = familyOf(ip);
    // nodad: the address is usable at once, not tentative for a second of duplicate detection.
    inNs(['addr', 'add', `${ip}/${bridgePrefix(family)}`, 'dev', 'eth0', ...(family === 'IPv6' ? ['nodad'] : [])]);
  }
  inNs(['link', 'set', 'eth0', 'up']);
  inNs(['link', 'set', 'lo', 'up']);
  for (const ip of ips) {
    const family = familyOf(ip);
    inNs([...(family === 'IPv6' ? ['-6'] : []), 'route', 'add', 'default', 'via', gateways[family]]);
  }
  return { netns, hostVeth, ips };
}

/** Cuts the pod off the network (node loss) or reconnects it. */
export function setLink(net: PodNetwork, up: boolean): void {
  tryRun('ip', ['link', 'set', net.hostVeth, up ? 'up' : 'down']);
}

/** Removes the pod's network namespace and veth. */
export function removeNetwork(net: PodNetwork): void {
  tryRun('ip', ['link', 'del', net.hostVeth]);
  tryRun('ip', ['netns', 'del', net.netns]);
}

const UNIFIED = '/sys/fs/cgroup/unified';
const V1 = ['memory', 'cpu'];

/** The cgroups of one container. */
export interface ContainerCgroups {
  readonly unified: string;
  readonly v1: readonly string[];
}

/**
 * Creates the container's cgroups under `pgk/<pod>/<container>`: the memory limit and CPU quota
 * of its `resources.limits`, as the kubelet's cgroup driver sets them.
 */
export function createCgroups(pod: string, container: string, limits: { memoryBytes?: number; cpuMillis?: number }): ContainerCgroups {
  const rel = path.join('pgk', pod, container);
  const unified = path.join(UNIFIED, rel);
  fs.mkdirSync(unified, { recursive: true });
  const v1 = V1.map((c) => path.join('/sys/fs/cgroup', c, rel));
  for (const dir of v1) fs.mkdirSync(dir, { recursive: true });
  if (limits.memoryBytes) fs.writeFileSync(path.join('/sys/fs/cgroup/memory', rel, 'memory.limit_in_bytes'), String(limits.memoryBytes));
  if (limits.cpuMillis) {
    fs.writeFileSync(path.join('/sys/fs/cgroup/cpu', rel, 'cpu.cfs_period_us'), '100000');
    fs.writeFileSync(path.join('/sys/fs/cgroup/cpu', rel, 'cpu.cfs_quota_us'), String(Math.max(1000, limits.cpuMillis * 100)));
  }
  return { unified, v1 };
}

/** Every live process of the container. */
export function cgroupPids(cg: ContainerCgroups): number[] {
  try {
    return fs.readFileSync(path.join(cg.unified, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILLs every process of the container at once. */
export function killCgroup(cg: ContainerCgroups): void {
  try {
    fs.writeFileSync(path.join(cg.unified, 'cgroup.kill'), '1');
  } catch {
    for (const pid of cgroupPids(cg)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Whether the container's memory cgroup recorded an OOM kill. */
export function oomKilled(cg: ContainerCgroups): boolean {
  const mem = cg.v1.find((d) => d.includes('/memory/'));
  if (!mem) return false;
  try {
    return /oom_kill [1-9]/.test(fs.readFileSync(path.join(mem, 'memory.oom_control'), 'utf8'));
  } catch {
    return false;
  }
}

/** Removes the container's (empty) cgroups. */
export function removeCgroups(cg: ContainerCgroups): void {
  for (const dir of [cg.unified, ...cg.v1]) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // still busy or gone: cleanup.sh takes what is left
    }
  }
}

/** Removes a pod's cgroup directories (after its containers' ones). */
export function removePodCgroups(pod: string): void {
  for (const base of [UNIFIED, ...V1.map((c) => path.join('/sys/fs/cgroup', c))]) {
    try {
      fs.rmdirSync(path.join(base, 'pgk', pod));
    } catch {
      // busy or gone
    }
  }
}

/**
 * Mount points on the host's root file system that containers bind onto. Each one the agent
 * creates is recorded, so cleanup can remove exactly those.
 */
export class MountPoints {
  constructor(private readonly recordFile: string) {}

  /** Makes sure `target` exists (a directory, or an empty file when `file`). */
  ensure(target: string, file: boolean): void {
    if (fs.existsSync(target)) return;
    const missing: string[] = [];
    let dir = path.dirname(target);
    while (!fs.existsSync(dir)) {
      missing.unshift(dir);
      dir = path.dirname(dir);
    }
    for (const d of missing) {
      fs.mkdirSync(d);
      fs.appendFileSync(this.recordFile, `d ${d}\n`);
    }
    if (file) {
      fs.writeFileSync(target, '');
      fs.appendFileSync(this.recordFile, `f ${target}\n`);
    } else {
      fs.mkdirSync(target);
      fs.appendFileSync(this.recordFile, `d ${target}\n`);
    }
  }
}
