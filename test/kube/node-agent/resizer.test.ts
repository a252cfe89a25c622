import { pendingExpansion } from './resizer';

const claim = (phase: string, requested: string, capacity?: string) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'pgdata-db-primary-0', namespace: 'ns' },
  spec: { volumeName: 'pvc-1', resources: { requests: { storage: requested } } },
  status: { phase, ...(capacity ? { capacity: { storage: capacity } } : {}) },
});

describe('the resizer stand-in', () => {
  test('a bound claim asking for more than its capacity is pending, at its requested size', () => {
    expect(pendingExpansion(claim('Bound', '2048Mi', '1Gi'))).toBe('2048Mi');
    expect(pendingExpansion(claim('Bound', '2Gi', '1024Mi'))).toBe('2Gi');
  });

  test('a claim at or above its request, unbound, or without a capacity yet is not', () => {
    expect(pendingExpansion(claim('Bound', '1024Mi', '1Gi'))).toBeUndefined();
    expect(pendingExpansion(claim('Bound', '1Gi', '2Gi'))).toBeUndefined();
    expect(pendingExpansion(claim('Pending', '2Gi'))).toBeUndefined();
    expect(pendingExpansion(claim('Bound', '2Gi'))).toBeUndefined();
  });
});
