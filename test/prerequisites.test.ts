/** What a set of manifests needs in the cluster but does not contain (src/validate/prerequisites). */
import { IssuerKind, Tls } from '../src';
import { exampleManifests, synthCluster, Manifest } from './helpers/manifests';
import { crdName, isBuiltInGroup, prerequisites } from '../src/validate/prerequisites';

const names = (ms: Manifest[]) => prerequisites(ms).map((p) => `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}`);

describe('prerequisites', () => {
  test('the production example: CRDs, StorageClasses and the S3 Secrets; its own Namespace is in the output', () => {
    expect(names(exampleManifests('production'))).toEqual([
      'CustomResourceDefinition certificates.cert-manager.io',
      'CustomResourceDefinition issuers.cert-manager.io',
      'CustomResourceDefinition podmonitors.monitoring.coreos.com',
      'CustomResourceDefinition prometheusrules.monitoring.coreos.com',
      'StorageClass fast-ssd',
      'StorageClass standard',
      'Secret orders/orders-db-s3',
      'Secret orders/orders-db-s3-cipher',
    ]);
  });

  test('a chart namespace the output does not create is listed, with who needs it', () => {
    const p = prerequisites(synthCluster({}, { namespace: 'orders' })).find((x) => x.kind === 'Namespace')!;
    expect(p.name).toBe('orders');
    expect(p.neededBy).toContain('StatefulSet/db-primary');
  });

  test('a ClusterIssuer the Certificates name, and no CA Issuer of the library\'s own', () => {
    const ms = synthCluster({ tls: Tls.certManager({ issuerName: 'corp-ca', issuerKind: IssuerKind.CLUSTER_ISSUER }) });
    expect(names(ms)).toEqual(['CustomResourceDefinition certificates.cert-manager.io', 'ClusterIssuer corp-ca']);
  });

  test('what the output contains is not listed: a CRD, a StorageClass, a Namespace, a Secret', () => {
    const sts: Manifest = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 's', namespace: 'n' },
      spec: {
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { storageClassName: 'fast' } }],
        template: { spec: { containers: [{ name: 'c', envFrom: [{ secretRef: { name: 'creds' } }] }] } },
      },
    };
    const widget: Manifest = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'n' } };
    expect(names([sts, widget])).toEqual(['CustomResourceDefinition widgets.example.com', 'Namespace n', 'StorageClass fast', 'Secret n/creds']);
    const provided: Manifest[] = [
      { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' } },
      { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'fast' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'n' } },
    ];
    expect(names([...provided, sts, widget])).toEqual([]);
  });

  test('built-in groups and CRD names', () => {
    expect(['v1', 'apps/v1', 'batch/v1', 'networking.k8s.io/v1', 'policy/v1'].every(isBuiltInGroup)).toBe(true);
    expect(isBuiltInGroup('cert-manager.io/v1')).toBe(false);
    expect(crdName('cert-manager.io/v1', 'ClusterIssuer')).toBe('clusterissuers.cert-manager.io');
    expect(crdName('monitoring.coreos.com/v1', 'PodMonitor')).toBe('podmonitors.monitoring.coreos.com');
    expect(crdName('example.com/v1', 'Policy')).toBe('policies.example.com');
  });
});
