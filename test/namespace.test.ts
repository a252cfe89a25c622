/** `createNamespace`: the cluster emits its Chart's Namespace, first, so `kubectl apply -f dist/` needs nothing made beforehand. */
import { runChecks } from '../src/validate';
import { buildCluster, synthCluster } from './helpers/manifests';

describe('createNamespace', () => {
  test('off by default: no Namespace object', () => {
    expect(synthCluster({}, { namespace: 'orders' }).filter((m) => m.kind === 'Namespace')).toEqual([]);
  });

  test('on: the Chart\'s Namespace, first, cluster-scoped, enforcing the restricted profile', () => {
    const ms = synthCluster({ createNamespace: true }, { namespace: 'orders' });
    expect(ms[0]).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'orders',
        labels: expect.objectContaining({
          'postgres.cdk8s.io/cluster': 'db',
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        }),
      },
    });
    expect(ms.filter((m) => m.kind === 'Namespace')).toHaveLength(1);
    expect(ms.slice(1).every((m) => m.metadata.namespace === 'orders')).toBe(true);
    expect(runChecks(ms).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('a Chart without a namespace: an error naming the property', () => {
    expect(() => buildCluster({ createNamespace: true })).toThrow(
      /^test\/db: invalid createNamespace = true: the Chart has no namespace to create: give it one/);
  });
});
