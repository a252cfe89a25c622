import * as fc from 'fast-check';
import { tuneFromLimits } from '../../src/render/memory-tuning';
import { clusterParameters, memberParameters, sorted } from '../../src/render/postgresql-parameters';
import { MiB } from '../../src/render/units';

const GiB = 1024 * MiB;
const tuning = tuneFromLimits({ memoryBytes: GiB, cpus: 0.5, maxConnections: 100 });
const member = (storageBytes: number, postgresVersion = 17) => memberParameters({ postgresVersion, tuning, storageBytes, socketDirectory: '/tmp' });
const mb = (v: unknown) => {
  const m = /^(\d+)MB$/.exec(String(v));
  if (!m) throw new Error(`not a MB setting: ${v}`);
  return Number(m[1]) * MiB;
};

function isSorted(keys: string[]): boolean {
  return keys.every((k, i) => i === 0 || keys[i - 1] < k);
}

describe('clusterParameters', () => {
  const p = clusterParameters({ maxConnections: 150, maxWalSenders: 16, maxReplicationSlots: 16, maxWorkerProcesses: 8 });

  test('renders the settings every member must share', () => {
    expect(p).toEqual({
      max_connections: 150,
      max_locks_per_transaction: 64,
      max_prepared_transactions: 0,
      max_replication_slots: 16,
      max_wal_senders: 16,
      max_worker_processes: 8,
      track_commit_timestamp: 'off',
      wal_level: 'replica',
    });
  });

  test('keys are sorted', () => {
    expect(isSorted(Object.keys(p))).toBe(true);
  });
});

describe('memberParameters', () => {
  test('memory settings come from the tuning', () => {
    const p = member(10 * GiB);
    expect(p.shared_buffers).toBe(`${tuning.sharedBuffers / MiB}MB`);
    expect(p.work_mem).toBe(`${tuning.workMem / MiB}MB`);
    expect(p.maintenance_work_mem).toBe(`${tuning.maintenanceWorkMem / MiB}MB`);
    expect(p.effective_cache_size).toBe(`${tuning.effectiveCacheSize / MiB}MB`);
    expect(p.max_parallel_workers).toBe(tuning.maxParallelWorkers);
    expect(p.huge_pages).toBe('off');
    expect(p.dynamic_shared_memory_type).toBe('posix');
    expect(p.password_encryption).toBe('scram-sha-256');
    expect(p.unix_socket_directories).toBe('/tmp');
    expect(p.wal_log_hints).toBe('on');
    expect(p.archive_mode).toBe('off');
  });

  test.each([
    // storage GiB -> max_wal_size, max_slot_wal_keep_size, wal_keep_size (MB)
    [1, 256, 256, 64],
    [10, 1280, 2560, 512],
    [100, 12800, 25600, 512],
    [1024, 16384, 262144, 512],
  ])('WAL bounds for %p GiB', (gib, maxWal, slotKeep, keep) => {
    const p = member(gib * GiB);
    expect([p.max_wal_size, p.max_slot_wal_keep_size, p.wal_keep_size]).toEqual([`${maxWal}MB`, `${slotKeep}MB`, `${keep}MB`]);
  });

  test('WAL bounds relative to storage: max_wal_size 1/8 (256MB..16GB), slots 1/4, wal_keep_size 1/16 (at most 512MB)', () => {
    fc.assert(fc.property(fc.integer({ min: 1024, max: 16 * 1024 * 1024 }), (storageMiB) => {
      const storage = storageMiB * MiB;
      const p = member(storage);
      const maxWal = mb(p.max_wal_size);
      const slotKeep = mb(p.max_slot_wal_keep_size);
      const keep = mb(p.wal_keep_size);
      expect(maxWal).toBeGreaterThanOrEqual(Math.min(256 * MiB, storage));
      expect(maxWal).toBeLessThanOrEqual(Math.max(storage / 8, 256 * MiB));
      expect(maxWal).toBeLessThanOrEqual(16 * GiB);
      expect(slotKeep).toBeLessThanOrEqual(storage / 4);
      expect(slotKeep).toBeGreaterThan(storage / 4 - MiB);
      expect(keep).toBeLessThanOrEqual(Math.min(storage / 16, 512 * MiB));
      // slots may never hold back more WAL than the volume can take next to the other WAL
      expect(maxWal + slotKeep + keep).toBeLessThan(storage * 0.6);
      expect(slotKeep).toBeGreaterThanOrEqual(keep);
    }));
  });

  test('lz4 WAL compression from PostgreSQL 15', () => {
    expect(member(10 * GiB, 15).wal_compression).toBe('lz4');
    expect(member(10 * GiB, 18).wal_compression).toBe('lz4');
  });

  test('keys are sorted', () => {
    expect(isSorted(Object.keys(member(10 * GiB)))).toBe(true);
  });
});

describe('sorted', () => {
  test('returns a copy with keys in order and the same values', () => {
    const input = { b: 1, a: 'x', c: true };
    const out = sorted(input);
    expect(Object.keys(out)).toEqual(['a', 'b', 'c']);
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
  });
});
