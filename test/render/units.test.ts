import * as fc from 'fast-check';
import { MiB, k8sMebibytes, parseCpuCores, pgMegabytes } from '../../src/render/units';

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
