import * as fc from 'fast-check';
import { AUTOVACUUM_WORKERS, DiskKind, memoryBudget, requiredSharedMemory, tuneFromLimits } from '../../src/render/memory-tuning';
import { MiB } from '../../src/render/units';

const GiB = 1024 * MiB;

const inputs = fc.record({
  memoryBytes: fc.integer({ min: 256 * MiB, max: 64 * GiB }),
  cpus: fc.double({ min: 0.1, max: 16, noNaN: true }),
  maxConnections: fc.integer({ min: 10, max: 1000 }),
  disk: fc.constantFrom<DiskKind>('network-ssd', 'local-ssd', 'hdd'),
});

describe('tuneFromLimits', () => {
  test('documented invariants hold over 256MiB..64GiB, 0.1..16 CPUs, 10..1000 connections', () => {
    fc.assert(fc.property(inputs, (input) => {
      const t = tuneFromLimits(input);
      const mem = input.memoryBytes;
      // shared_buffers = max(32MiB, mem/8) rounded down to MiB
      expect(t.sharedBuffers).toBe(Math.floor(Math.max(32 * MiB, mem / 8) / MiB) * MiB);
      // /dev/shm: 1/8 of the limit within [64MiB, 1GiB], or more when parallel query needs it
      const baseShm = Math.floor(Math.min(1024 * MiB, Math.max(64 * MiB, mem / 8)) / MiB) * MiB;
      const cores = Math.max(1, Math.floor(input.cpus));
      expect(t.sharedMemoryVolume).toBe(Math.max(baseShm, Math.ceil(requiredSharedMemory(cores, t.workMem) / MiB) * MiB));
      expect(t.sharedMemoryVolume).toBeGreaterThanOrEqual(requiredSharedMemory(t.maxParallelWorkers, t.workMem));
      expect(t.workMem).toBeGreaterThanOrEqual(MiB);
      for (const v of [t.sharedBuffers, t.effectiveCacheSize, t.workMem, t.maintenanceWorkMem, t.sharedMemoryVolume]) {
        expect(v % MiB).toBe(0);
        expect(v).toBeGreaterThan(0);
      }
      // both are charged to the same memory cgroup and must leave room for the backends
      expect(t.sharedBuffers + t.sharedMemoryVolume).toBeLessThan(mem);
      expect(t.sharedBuffers + baseShm).toBeLessThanOrEqual(mem / 4 + 96 * MiB);
      // work_mem x (3 per connection + 1 per parallel participant) fits in what 3/4 of the limit
      // leaves after shared_buffers and the base /dev/shm, unless clamped at its 1MiB floor
      const budget = mem * 0.75 - t.sharedBuffers - baseShm;
      if (t.workMem > MiB) expect((input.maxConnections * 3 + cores + 1) * t.workMem).toBeLessThanOrEqual(budget);
      expect(t.effectiveCacheSize).toBeLessThanOrEqual(mem);
      expect(t.maintenanceWorkMem).toBeGreaterThanOrEqual(16 * MiB);
      expect(t.maintenanceWorkMem).toBeLessThanOrEqual(2048 * MiB);
      // parallelism
      expect(Number.isInteger(t.maxWorkerProcesses)).toBe(true);
      expect(t.maxParallelWorkers).toBeGreaterThanOrEqual(1);
      expect(t.maxParallelWorkers).toBeLessThanOrEqual(Math.max(1, Math.floor(input.cpus)));
      expect(t.maxParallelWorkersPerGather).toBeLessThanOrEqual(t.maxParallelWorkers);
      expect(t.maxParallelWorkersPerGather).toBeLessThanOrEqual(4);
      expect(t.maxWorkerProcesses).toBeGreaterThanOrEqual(Math.max(8, t.maxParallelWorkers));
      expect(t.maxParallelMaintenanceWorkers).toBeLessThanOrEqual(Math.min(4, t.maxParallelWorkers));
      // autovacuum_work_mem: 1/32 of the limit within [8MiB, 1GiB]; wal_buffers: 1/32 of shared_buffers in 8kB pages, 64kB..16MiB
      expect(t.autovacuumWorkMem).toBeGreaterThanOrEqual(8 * MiB);
      expect(t.autovacuumWorkMem).toBeLessThanOrEqual(1024 * MiB);
      expect(t.autovacuumWorkMem % MiB).toBe(0);
      expect(t.walBuffers % 8192).toBe(0);
      expect(t.walBuffers).toBeGreaterThanOrEqual(64 * 1024);
      expect(t.walBuffers).toBeLessThanOrEqual(16 * MiB);
      expect(t.walBuffers).toBeLessThanOrEqual(Math.max(64 * 1024, t.sharedBuffers / 32));
    }), { numRuns: 500 });
  });

  test('is monotonic in memory', () => {
    fc.assert(fc.property(inputs, fc.integer({ min: 0, max: 8 * GiB }), (input, extra) => {
      const a = tuneFromLimits(input);
      const b = tuneFromLimits({ ...input, memoryBytes: input.memoryBytes + extra });
      expect(b.sharedBuffers).toBeGreaterThanOrEqual(a.sharedBuffers);
      expect(b.sharedMemoryVolume).toBeGreaterThanOrEqual(a.sharedMemoryVolume);
      expect(b.effectiveCacheSize).toBeGreaterThanOrEqual(a.effectiveCacheSize);
    }));
  });

  test.each([
    // memory, cpus, connections -> shared_buffers, shm, work_mem, maintenance, effective cache (MiB), parallel, per gather, workers
    [256, 0.25, 100, 32, 64, 1, 16, 192, 1, 0, 8],
    [1024, 0.5, 100, 128, 128, 1, 64, 768, 1, 0, 8],
    [4096, 2, 200, 512, 512, 3, 256, 3072, 2, 1, 8],
    [16384, 4, 100, 2048, 1024, 30, 1024, 12288, 4, 2, 8],
    [65536, 16, 500, 8192, 1024, 26, 2048, 49152, 16, 4, 20],
  ])('%p MiB, %p CPUs, %p connections', (mem, cpus, conns, sb, shm, wm, mwm, ecs, pw, pwg, wp) => {
    const t = tuneFromLimits({ memoryBytes: mem * MiB, cpus, maxConnections: conns, disk: 'network-ssd' });
    expect({
      sb: t.sharedBuffers / MiB,
      shm: t.sharedMemoryVolume / MiB,
      wm: t.workMem / MiB,
      mwm: t.maintenanceWorkMem / MiB,
      ecs: t.effectiveCacheSize / MiB,
      pw: t.maxParallelWorkers,
      pwg: t.maxParallelWorkersPerGather,
      wp: t.maxWorkerProcesses,
    }).toEqual({ sb, shm, wm, mwm, ecs, pw, pwg, wp });
  });

  test.each<[DiskKind, number, number]>([
    ['network-ssd', 1.1, 64],
    ['local-ssd', 1.1, 200],
    ['hdd', 4, 2],
  ])('disk %s: random_page_cost %p, effective_io_concurrency %p', (disk, rpc, eic) => {
    const t = tuneFromLimits({ memoryBytes: 1024 * MiB, cpus: 1, maxConnections: 100, disk });
    expect([t.randomPageCost, t.effectiveIoConcurrency]).toEqual([rpc, eic]);
  });

  test('the disk changes only the I/O costs', () => {
    fc.assert(fc.property(inputs, (input) => {
      const { randomPageCost: _a, effectiveIoConcurrency: _b, ...ssd } = tuneFromLimits({ ...input, disk: 'network-ssd' });
      const { randomPageCost: _c, effectiveIoConcurrency: _d, ...hdd } = tuneFromLimits({ ...input, disk: 'hdd' });
      expect(hdd).toEqual(ssd);
    }), { numRuns: 100 });
  });

  test('always fits its own memory budget (256MiB..64GiB, 0.1..16 CPUs, 10..100 connections)', () => {
    const budgetInputs = fc.record({
      memoryBytes: fc.integer({ min: 256 * MiB, max: 64 * GiB }),
      cpus: fc.double({ min: 0.1, max: 16, noNaN: true }),
      maxConnections: fc.integer({ min: 10, max: 100 }),
      disk: fc.constantFrom<DiskKind>('network-ssd', 'local-ssd', 'hdd'),
    });
    fc.assert(fc.property(budgetInputs, (input) => {
      const t = tuneFromLimits(input);
      const budget = memoryBudget({
        memoryLimit: input.memoryBytes,
        sharedBuffers: t.sharedBuffers,
        sharedMemoryVolume: t.sharedMemoryVolume,
        maxConnections: input.maxConnections,
        workMem: t.workMem,
        maintenanceWorkMem: t.maintenanceWorkMem,
        autovacuumWorkMem: t.autovacuumWorkMem,
      });
      expect(budget.worstCase).toBeLessThanOrEqual(input.memoryBytes);
      expect(budget.fits).toBe(true);
    }), { numRuns: 2000 });
  });
});

describe('memoryBudget', () => {
  const base = {
    memoryLimit: 1024 * MiB,
    sharedBuffers: 128 * MiB,
    sharedMemoryVolume: 128 * MiB,
    maxConnections: 100,
    workMem: 2 * MiB,
    maintenanceWorkMem: 64 * MiB,
    autovacuumWorkMem: 32 * MiB,
  };

  test('worst case is shared_buffers + /dev/shm + max_connections x work_mem + maintenance + 3 x autovacuum', () => {
    const b = memoryBudget(base);
    expect(AUTOVACUUM_WORKERS).toBe(3);
    expect(b.worstCase).toBe((128 + 128 + 200 + 64 + 96) * MiB);
    expect(b.fits).toBe(true);
    expect(b.breakdown).toBe(
      'shared_buffers 128Mi + /dev/shm 128Mi + max_connections 100 x work_mem 2Mi + maintenance_work_mem 64Mi + 3 x autovacuum_work_mem 32Mi = 616Mi',
    );
  });

  test('fits is inclusive of the limit', () => {
    expect(memoryBudget({ ...base, memoryLimit: 616 * MiB }).fits).toBe(true);
    expect(memoryBudget({ ...base, memoryLimit: 616 * MiB - 1 }).fits).toBe(false);
  });

  test('1000 connections of 1Mi do not fit 256Mi', () => {
    const b = memoryBudget({
      ...base, memoryLimit: 256 * MiB, maxConnections: 1000, workMem: MiB, sharedBuffers: 32 * MiB, sharedMemoryVolume: 64 * MiB,
    });
    expect(b.fits).toBe(false);
    expect(b.breakdown).toContain('max_connections 1000 x work_mem 1Mi');
  });

  test('is monotonic in every term', () => {
    const sizes = fc.integer({ min: 0, max: 4096 }).map((n) => n * MiB);
    fc.assert(fc.property(sizes, sizes, fc.integer({ min: 1, max: 1000 }), sizes, sizes, sizes, fc.nat(64 * MiB),
      (sb, shm, conns, wm, mwm, av, extra) => {
        const b = {
          memoryLimit: 64 * GiB,
          sharedBuffers: sb,
          sharedMemoryVolume: shm,
          maxConnections: conns,
          workMem: wm,
          maintenanceWorkMem: mwm,
          autovacuumWorkMem: av,
        };
        const w = memoryBudget(b).worstCase;
        expect(w).toBe(sb + shm + conns * wm + mwm + 3 * av);
        for (const k of ['sharedBuffers', 'sharedMemoryVolume', 'workMem', 'maintenanceWorkMem', 'autovacuumWorkMem'] as const) {
          expect(memoryBudget({ ...b, [k]: b[k] + extra }).worstCase).toBeGreaterThanOrEqual(w);
        }
        expect(memoryBudget({ ...b, maxConnections: conns + 1 }).worstCase).toBeGreaterThanOrEqual(w);
      }), { numRuns: 200 });
  });
});

describe('requiredSharedMemory', () => {
  test.each([
    // max_parallel_workers, work_mem MiB -> MiB
    [0, 4, 20],
    [1, 1, 18],
    [8, 64, 592],
    [16, 8, 152],
  ])('%p workers, work_mem %pMi -> %pMi', (workers, wm, need) => {
    expect(requiredSharedMemory(workers, wm * MiB)).toBe(need * MiB);
  });
});
