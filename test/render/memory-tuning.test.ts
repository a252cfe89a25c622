import * as fc from 'fast-check';
import { tuneFromLimits } from '../../src/render/memory-tuning';
import { MiB } from '../../src/render/units';

const GiB = 1024 * MiB;

const inputs = fc.record({
  memoryBytes: fc.integer({ min: 256 * MiB, max: 64 * GiB }),
  cpus: fc.double({ min: 0.1, max: 16, noNaN: true }),
  maxConnections: fc.integer({ min: 10, max: 1000 }),
});

describe('tuneFromLimits', () => {
  test('documented invariants hold over 256MiB..64GiB, 0.1..16 CPUs, 10..1000 connections', () => {
    fc.assert(fc.property(inputs, (input) => {
      const t = tuneFromLimits(input);
      const mem = input.memoryBytes;
      // shared_buffers = max(32MiB, mem/8) rounded down to MiB
      expect(t.sharedBuffers).toBe(Math.floor(Math.max(32 * MiB, mem / 8) / MiB) * MiB);
      // /dev/shm: 1/8 of the limit within [64MiB, 1GiB]
      expect(t.sharedMemoryVolume).toBeGreaterThanOrEqual(64 * MiB);
      expect(t.sharedMemoryVolume).toBeLessThanOrEqual(1024 * MiB);
      expect(t.workMem).toBeGreaterThanOrEqual(MiB);
      for (const v of [t.sharedBuffers, t.effectiveCacheSize, t.workMem, t.maintenanceWorkMem, t.sharedMemoryVolume]) {
        expect(v % MiB).toBe(0);
        expect(v).toBeGreaterThan(0);
      }
      // both are charged to the same memory cgroup and must leave room for the backends
      expect(t.sharedBuffers + t.sharedMemoryVolume).toBeLessThan(mem);
      expect(t.sharedBuffers + t.sharedMemoryVolume).toBeLessThanOrEqual(mem / 4 + 96 * MiB);
      expect(t.sharedBuffers + t.sharedMemoryVolume).toBeLessThanOrEqual(mem * 0.75);
      // work_mem x 3 per connection fits in what 3/4 of the limit leaves, unless clamped at its 1MiB floor
      const budget = mem * 0.75 - t.sharedBuffers - t.sharedMemoryVolume;
      if (t.workMem > MiB) expect(input.maxConnections * 3 * t.workMem).toBeLessThanOrEqual(budget);
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
    const t = tuneFromLimits({ memoryBytes: mem * MiB, cpus, maxConnections: conns });
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
});
