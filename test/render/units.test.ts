import * as fc from 'fast-check';
import { MiB, formatQuantity, k8sMebibytes, parseCpuCores, parsePgMemory, parseStorageQuantity, pgMegabytes } from '../../src/render/units';

describe('pgMegabytes', () => {
  test.each([
    [MiB, '1MB'],
    [512 * MiB, '512MB'],
    [512 * MiB + 1, '512MB'],
    [513 * MiB - 1, '512MB'],
    [16 * 1024 * MiB, '16384MB'],
    [0, '1MB'],
    [1000, '1MB'],
  ])('%p bytes -> %s', (bytes, expected) => {
    expect(pgMegabytes(bytes)).toBe(expected);
  });

  test('rounds down to whole MiB and never below 1MB', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 45 }), (bytes) => {
      const n = Number(/^(\d+)MB$/.exec(pgMegabytes(bytes))![1]);
      expect(n).toBeGreaterThanOrEqual(1);
      if (bytes >= MiB) {
        expect(n * MiB).toBeLessThanOrEqual(bytes);
        expect((n + 1) * MiB).toBeGreaterThan(bytes);
      }
    }));
  });
});

describe('k8sMebibytes', () => {
  test.each([
    [MiB, '1Mi'],
    [1024 * MiB, '1024Mi'],
    [1024 * MiB + 5, '1024Mi'],
    [10, '1Mi'],
  ])('%p bytes -> %s', (bytes, expected) => {
    expect(k8sMebibytes(bytes)).toBe(expected);
  });
});

describe('parseCpuCores', () => {
  test.each([
    ['500m', 0.5],
    ['100m', 0.1],
    ['2', 2],
    ['1.5', 1.5],
    ['0.25', 0.25],
    [' 250m ', 0.25],
    ['1500m', 1.5],
  ])('%j -> %p cores', (amount, cores) => {
    expect(parseCpuCores(amount)).toBeCloseTo(cores, 10);
  });

  test.each([[''], ['m'], ['abc'], ['1Gi'], ['-1'], ['1.5.5'], ['2 cores'], ['1e3'], ['.5']])('%j is refused', (amount) => {
    expect(() => parseCpuCores(amount)).toThrow(`not a CPU quantity: ${JSON.stringify(amount)}`);
  });
});

describe('parsePgMemory', () => {
  test.each<[string, number]>([
    ['64kB', 64 * 1024],
    ['4MB', 4 * MiB],
    ['1GB', 1024 * MiB],
    ['1TB', 1024 * 1024 * MiB],
    ['512', 512 * 1024],
    [' 8MB ', 8 * MiB],
    ['8 MB', 8 * MiB],
    ['0', 0],
  ])('%j -> %p bytes', (value, bytes) => {
    expect(parsePgMemory(value)).toBe(bytes);
  });

  test('a bare number is in the parameter\'s own unit: kB by default, MB for the WAL sizes', () => {
    expect(parsePgMemory('512', 'MB')).toBe(512 * MiB);
    expect(parsePgMemory('2GB', 'MB')).toBe(2048 * MiB);
  });

  test.each([[''], ['lots'], ['8mb'], ['8Mi'], ['8 M'], ['1.5GB'], ['-1MB'], ['8MB8'], ['MB']])('%j is not a memory setting', (value) => {
    expect(parsePgMemory(value)).toBeUndefined();
  });

  test('round-trips pgMegabytes', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 20 }), (mb) => {
      expect(parsePgMemory(pgMegabytes(mb * MiB))).toBe(mb * MiB);
    }));
  });
});

describe('formatQuantity', () => {
  test.each<[number, string]>([
    [1024 * MiB, '1Gi'],
    [10 * 1024 * MiB, '10Gi'],
    [512 * MiB, '512Mi'],
    [1536 * MiB, '1536Mi'],
    [512 * 1024, '512Ki'],
    [MiB + 1024, '1025Ki'],
    [1000, '1000'],
    [0, '0Gi'],
    [2 * 1024 * 1024 * MiB, '2Ti'],
    [128 * MiB, '128Mi'],
  ])('%p bytes -> %s', (bytes, expected) => {
    expect(formatQuantity(bytes)).toBe(expected);
  });

  test('is exact: parses back to the same byte count', () => {
    const factors: Record<string, number> = { 'Ti': 1024 * 1024 * MiB, 'Gi': 1024 * MiB, 'Mi': MiB, 'Ki': 1024, '': 1 };
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 45 }), (bytes) => {
      const m = /^(\d+)(Ti|Gi|Mi|Ki)?$/.exec(formatQuantity(bytes))!;
      expect(m).not.toBeNull();
      expect(Number(m[1]) * factors[m[2] ?? '']).toBe(bytes);
    }));
  });
});

test('storage quantities as the API server writes them, in bytes; anything else is undefined', () => {
  expect(parseStorageQuantity('1Gi')).toBe(1024 * MiB);
  expect(parseStorageQuantity('2048Mi')).toBe(2048 * MiB);
  expect(parseStorageQuantity('500M')).toBe(500e6);
  expect(parseStorageQuantity('1e9')).toBe(1e9);
  expect(parseStorageQuantity('512')).toBe(512);
  expect(parseStorageQuantity('1.5Gi')).toBe(1536 * MiB);
  for (const bad of ['10GB', 'ten', '-1Gi', '', undefined]) expect(parseStorageQuantity(bad)).toBeUndefined();
});
