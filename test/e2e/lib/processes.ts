/**
 * Waiting, and the host processes some tests run beside the cluster (the node-config suite's bare
 * PostgreSQL): each as the `postgres` OS user inside its own cgroup v2, because PostgreSQL's
 * children call `setsid()` and a Unix process group cannot hold them, while a cgroup holds every
 * descendant and `cgroup.kill` SIGKILLs all of them atomically. Requires root and a writable
 * cgroup2 mount (kernel >= 5.14).
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** OS user that every managed process runs as (postgres and Patroni refuse root). */
export const SERVICE_USER = 'postgres';

let serviceIds: { uid: number; gid: number } | undefined;

/** uid/gid of {@link SERVICE_USER}, looked up once. */
export function serviceUserIds(): { uid: number; gid: number } {
  serviceIds ??= {
    uid: Number(execFileSync('id', ['-u', SERVICE_USER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', SERVICE_USER], { encoding: 'utf8' }).trim()),
  };
  return serviceIds;
}

/** Environment every managed process starts from (no inherited pyenv/npm variables). */
const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/var/lib/postgresql',
  USER: SERVICE_USER,
  LOGNAME: SERVICE_USER,
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
};

/** Options for {@link spawnGroup}. */
export interface SpawnGroupOptions {
  /** Name used in errors and in the cgroup name. */
  readonly name: string;
  /** Absolute path of the executable. */
  readonly command: string;
  readonly args?: readonly string[];
  /** Extra environment, merged over a minimal clean base environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** File that receives stdout and stderr (appended to). */
  readonly logFile: string;
}

/** A started service: its leader process plus every descendant, confined to one cgroup. */
export interface ProcessGroup {
  readonly name: string;
  /** PID of the leader (the command itself; also a session and process-group leader). */
  readonly pid: number;
  /** cgroup v2 directory holding every process of the group. */
  readonly cgroup: string;
  readonly logFile: string;
  /** The leader's exit code or signal once it has been reaped, `undefined` while it runs. */
  readonly exitStatus: number | NodeJS.Signals | undefined;
}

interface GroupRecord extends ProcessGroup {
  exitStatus: number | NodeJS.Signals | undefined;
}

const registry = new Map<number, GroupRecord>();
let cgroupBase: string | undefined;
let sequence = 0;
let exitHookInstalled = false;

/** `<cgroup2 mount>/e2e-<our pid>`, created on first use. */
function baseCgroup(): string {
  if (cgroupBase === undefined) {
    const mount = fs.readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .find((fields) => fields[2] === 'cgroup2')?.[1];
    if (mount === undefined) throw new Error('no cgroup2 filesystem mounted; e2e process groups need cgroup v2');
    cgroupBase = path.join(mount, `e2e-${process.pid}`);
    fs.mkdirSync(cgroupBase, { recursive: true });
    if (!exitHookInstalled) installExitHook();
  }
  return cgroupBase;
}

/**
 * Starts `command` as {@link SERVICE_USER} in a fresh cgroup and a new session.
 * A shell moves itself into the cgroup and then `exec`s `setpriv`, which
 * `exec`s the command, so nothing can fork before confinement and the PID we
 * hold is the command's. The group is registered for {@link stopAll}.
 */
export function spawnGroup(options: SpawnGroupOptions): ProcessGroup {
  const cgroup = path.join(baseCgroup(), `${options.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${++sequence}`);
  fs.mkdirSync(cgroup);
  const fd = fs.openSync(options.logFile, 'a');
  try {
    const child = spawn(
      '/bin/sh',
      [
        '-c', 'echo $$ > "$0" && exec "$@"', path.join(cgroup, 'cgroup.procs'),
        '/usr/bin/setpriv', `--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--init-groups', '--',
        options.command, ...(options.args ?? []),
      ],
      { cwd: options.cwd, env: { ...BASE_ENV, ...options.env }, detached: true, stdio: ['ignore', fd, fd] },
    );
    if (child.pid === undefined) {
      child.once('error', () => undefined); // reported by the throw below
      removeCgroup(cgroup);
      throw new Error(`failed to spawn ${options.name} (${options.command}); cwd ${options.cwd ?? process.cwd()}`);
    }
    // A forgotten group must not keep the test runner alive: the exit hook kills it.
    child.unref();
    const group: GroupRecord = { name: options.name, pid: child.pid, cgroup, logFile: options.logFile, exitStatus: undefined };
    child.once('exit', (code, signal) => {
      group.exitStatus = code ?? signal ?? undefined;
    });
    registry.set(group.pid, group);
    return group;
  } finally {
    fs.closeSync(fd);
  }
}

/** PIDs of every live process of the group (zombies have already left the cgroup). */
export function groupMembers(group: ProcessGroup): number[] {
  try {
    return fs.readFileSync(path.join(group.cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Sends `signal` to every process of the group; SIGKILL goes through
 * `cgroup.kill`, which also catches processes forked meanwhile.
 * @returns false if no process of the group was left.
 */
export function killGroup(group: ProcessGroup, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  const pids = groupMembers(group);
  if (pids.length === 0) return false;
  if (signal === 'SIGKILL') {
    fs.writeFileSync(path.join(group.cgroup, 'cgroup.kill'), '1');
    return true;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return true;
}

/** Waits until no process of the group is left and its leader has been reaped. */
export async function waitForGroupExit(group: ProcessGroup, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => groupMembers(group).length === 0 && group.exitStatus !== undefined,
    timeoutMs, 50, `${group.name} (pid ${group.pid}) to exit`);
}

/** SIGKILLs the whole group (a "node crash"), waits until it is gone and unregisters it. */
export async function killAndWait(group: ProcessGroup, timeoutMs = 10_000): Promise<void> {
  killGroup(group, 'SIGKILL');
  await waitForGroupExit(group, timeoutMs);
  release(group);
}

/**
 * Stops a group gracefully: SIGTERM to the leader only (Patroni then shuts
 * postgres down itself), SIGKILL to the whole group after `graceMs`.
 */
export async function terminateGroup(group: ProcessGroup, graceMs = 15_000): Promise<void> {
  try {
    process.kill(group.pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  try {
    await waitForGroupExit(group, graceMs);
    release(group);
  } catch {
    await killAndWait(group);
  }
}

/** Groups started by {@link spawnGroup} that have not been stopped yet. */
export function runningGroups(): ProcessGroup[] {
  return [...registry.values()];
}

/** SIGKILLs every registered group, waits until all are gone and removes their cgroups. */
export async function stopAll(timeoutMs = 10_000): Promise<void> {
  await Promise.all(runningGroups().map((g) => killAndWait(g, timeoutMs)));
}

/** Unregisters an exited group and removes its (empty) cgroup, and the base one once unused. */
function release(group: ProcessGroup): void {
  registry.delete(group.pid);
  removeCgroup(group.cgroup);
  if (registry.size === 0 && cgroupBase !== undefined) {
    removeCgroup(cgroupBase);
    cgroupBase = undefined;
  }
}

function removeCgroup(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Kills all groups when the Node process exits or is interrupted. */
function installExitHook(): void {
  exitHookInstalled = true;
  const killAllNow = (): void => {
    const groups = runningGroups();
    for (const group of groups) killGroup(group, 'SIGKILL');
    // Synchronous context: poll briefly so the emptied cgroups can be removed.
    const tick = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 100 && groups.some((g) => groupMembers(g).length > 0); i++) Atomics.wait(tick, 0, 0, 20);
    for (const group of groups) {
      try {
        release(group);
      } catch {
        // still populated after the poll: leave the cgroup directory behind
      }
    }
  };
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllNow();
      process.kill(process.pid, signal); // default action once cleaned up
    });
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `fn` every `intervalMs` until it returns something other than
 * `undefined` or `false`, and returns that value. A thrown error counts as
 * "not yet"; on timeout the error names `description` and the last outcome.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs: number,
  intervalMs: number,
  description: string,
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let last = 'none';
  for (;;) {
    attempts++;
    try {
      const result = await fn();
      if (result !== undefined && result !== false) return result as Exclude<T, undefined | false>;
      last = `returned ${String(result)}`;
    } catch (err) {
      last = `threw ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() + intervalMs > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description} (${attempts} attempts); last attempt ${last}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Live (non-zombie) processes still inside a cgroup this test process created: after
 * {@link stopAll} there must be none. Processes of other programs running as the same user
 * (another test run, a benchmark) do not count.
 */
export function leftoverProcesses(): Array<{ pid: number; command: string }> {
  const marker = `/e2e-${process.pid}/`;
  const found: Array<{ pid: number; command: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(marker)) continue;
      const state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (state === 'Z') continue;
      const command = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      found.push({ pid: Number(entry), command });
    } catch {
      // the process vanished while scanning
    }
  }
  return found;
}
