import { MiB } from './units';

/** The disk hint the I/O costs are derived from. */
export type DiskKind = 'network-ssd' | 'local-ssd' | 'hdd';

/** What the tuning is derived from: the container's limits. */
export interface TuningInput {
  /** Memory limit of the postgres container, in bytes. Everything below must fit inside it. */
  readonly memoryBytes: number;
  /** CPU limit of the postgres container, in cores (may be fractional). */
  readonly cpus: number;
  /** max_connections. */
  readonly maxConnections: number;
  /** The kind of disk. */
  readonly disk: DiskKind;
}

/** Memory, parallelism and I/O settings derived from the container limits (sizes in bytes). */
export interface Tuning {
  readonly sharedBuffers: number;
  readonly effectiveCacheSize: number;
  readonly workMem: number;
  readonly maintenanceWorkMem: number;
  readonly autovacuumWorkMem: number;
  readonly walBuffers: number;
  /** Size limit of the `/dev/shm` memory volume (dynamic shared memory for parallel query). */
  readonly sharedMemoryVolume: number;
  readonly maxWorkerProcesses: number;
  readonly maxParallelWorkers: number;
  readonly maxParallelWorkersPerGather: number;
  readonly maxParallelMaintenanceWorkers: number;
  readonly randomPageCost: number;
  readonly effectiveIoConcurrency: number;
}

/** autovacuum_max_workers (PostgreSQL's default, which the library keeps). */
export const AUTOVACUUM_WORKERS = 3;

/**
 * Derives memory, parallelism and I/O settings from the container limits.
 *
 * Unlike PGTune, which sizes for a whole machine, the container limit *is* the machine here:
 * the page cache, `/dev/shm` and shared_buffers are all charged to the same memory cgroup.
 * So shared_buffers takes 1/8 of the limit, leaving the page cache room inside the cgroup (at 1/4
 * the 2 GiB cgroup of bench/tuning-bench.sh ran at its limit, reclaiming constantly; throughput
 * of all three configurations was within noise: see BENCHMARKS.md), `/dev/shm` gets 1/8
 * (64 MiB to 1 GiB, more if parallel query needs it), and work_mem is what is left of 3/4 of the
 * limit shared by three sort or hash nodes per connection and one per parallel participant.
 * The result always passes {@link memoryBudget} and {@link requiredSharedMemory}.
 */
export function tuneFromLimits(input: TuningInput): Tuning {
  const mem = input.memoryBytes;
  const sharedBuffers = roundMiB(Math.max(32 * MiB, mem / 8));
  const baseSharedMemory = roundMiB(clamp(mem / 8, 64 * MiB, 1024 * MiB));
  const cores = Math.max(1, Math.floor(input.cpus));
  // What is left for backends is shared by three sort/hash nodes per connection and by one
  // work_mem per parallel participant in /dev/shm, so both always fit (see memoryBudget).
  const backendBudget = mem * 0.75 - sharedBuffers - baseSharedMemory;
  const workMem = roundMiB(Math.max(1 * MiB, backendBudget / (input.maxConnections * 3 + cores + 1)));
  const sharedMemoryVolume = Math.max(baseSharedMemory, Math.ceil(requiredSharedMemory(cores, workMem) / MiB) * MiB);
  const maintenanceWorkMem = roundMiB(clamp(mem / 16, 16 * MiB, 2048 * MiB));
  const autovacuumWorkMem = roundMiB(clamp(mem / 32, 8 * MiB, 1024 * MiB));
  const ssd = input.disk !== 'hdd';
  return {
    sharedBuffers,
    effectiveCacheSize: roundMiB(mem * 0.75),
    workMem,
    maintenanceWorkMem,
    autovacuumWorkMem,
    walBuffers: clamp(Math.floor(sharedBuffers / 32 / 8192) * 8192, 64 * 1024, 16 * MiB),
    sharedMemoryVolume,
    maxWorkerProcesses: Math.max(8, cores + 4),
    maxParallelWorkers: cores,
    maxParallelWorkersPerGather: cores >= 2 ? Math.min(4, Math.ceil(cores / 2)) : 0,
    maxParallelMaintenanceWorkers: cores >= 2 ? Math.min(4, Math.ceil(cores / 2)) : 0,
    randomPageCost: ssd ? 1.1 : 4,
    effectiveIoConcurrency: input.disk === 'local-ssd' ? 200 : input.disk === 'network-ssd' ? 64 : 2,
  };
}

/** The settings a worst-case memory estimate is made from (bytes). */
export interface BudgetInput {
  readonly memoryLimit: number;
  readonly sharedBuffers: number;
  readonly sharedMemoryVolume: number;
  readonly maxConnections: number;
  readonly workMem: number;
  readonly maintenanceWorkMem: number;
  readonly autovacuumWorkMem: number;
}

/** Worst-case memory of a member and whether it fits its limit. */
export interface Budget {
  /** shared_buffers + /dev/shm + max_connections x work_mem + maintenance + autovacuum workers. */
  readonly worstCase: number;
  readonly fits: boolean;
  /** The terms, for error messages. */
  readonly breakdown: string;
}

/**
 * Worst-case memory of one member: everything that is charged to the container's cgroup when
 * every connection runs a sort at once while maintenance and autovacuum run.
 */
export function memoryBudget(b: BudgetInput): Budget {
  const conns = b.maxConnections * b.workMem;
  const av = AUTOVACUUM_WORKERS * b.autovacuumWorkMem;
  const worstCase = b.sharedBuffers + b.sharedMemoryVolume + conns + b.maintenanceWorkMem + av;
  const mb = (v: number) => `${Math.round(v / MiB)}Mi`;
  return {
    worstCase,
    fits: worstCase <= b.memoryLimit,
    breakdown: `shared_buffers ${mb(b.sharedBuffers)} + /dev/shm ${mb(b.sharedMemoryVolume)} + max_connections ${b.maxConnections}`
      + ` x work_mem ${mb(b.workMem)} + maintenance_work_mem ${mb(b.maintenanceWorkMem)}`
      + ` + ${AUTOVACUUM_WORKERS} x autovacuum_work_mem ${mb(b.autovacuumWorkMem)} = ${mb(worstCase)}`,
  };
}

/**
 * What `/dev/shm` must hold: the dynamic shared memory of parallel queries (a parallel hash
 * join shares up to work_mem per participant) plus 16 MiB for the control segments.
 */
export function requiredSharedMemory(maxParallelWorkers: number, workMem: number): number {
  return (maxParallelWorkers + 1) * workMem + 16 * MiB;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function roundMiB(bytes: number): number {
  return Math.floor(bytes / MiB) * MiB;
}
