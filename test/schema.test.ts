import { allCases, exampleCases } from './helpers/cases';
import { exampleManifests, exampleNames, synthCluster } from './helpers/manifests';
import { modelFor, schemaViolations, validateManifest } from '../src/validate/schema';

describe('Kubernetes schema validation', () => {
  test('there are examples to validate', () => {
    expect(exampleNames()).toEqual(expect.arrayContaining(['basic', 'production']));
    expect(exampleCases().length).toBe(exampleNames().length);
  });

  describe.each(allCases().map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const manifests = c.manifests();

    test('synthesizes objects', () => {
      expect(manifests.length).toBeGreaterThan(5);
    });

    test('every object has a schema model', () => {
      const missing: string[] = [];
      for (const m of manifests) {
        try {
          modelFor(m);
        } catch (err) {
          missing.push((err as Error).message);
        }
      }
      expect(missing).toEqual([]);
    });

    test('every object is valid against the official schema', () => {
      expect(schemaViolations(manifests)).toEqual([]);
    });
  });

  describe('the validator itself', () => {
    const valid = () => JSON.parse(JSON.stringify(synthCluster())) as any[];
    const statefulSet = (objs: any[]) => objs.find((m) => m.kind === 'StatefulSet');

    test('accepts an unmodified StatefulSet', () => {
      expect(() => validateManifest(statefulSet(valid()))).not.toThrow();
    });

    test('rejects a StatefulSet with replicas: "three"', () => {
      const sts = statefulSet(valid());
      sts.spec.replicas = 'three';
      expect(() => validateManifest(sts)).toThrow(/StatefulSet\/db-primary: .*replicas must be integer/);
      expect(schemaViolations([sts])).toHaveLength(1);
    });

    test('rejects a StatefulSet without its required selector', () => {
      const sts = statefulSet(valid());
      delete sts.spec.selector;
      expect(() => validateManifest(sts)).toThrow(/selector/);
    });

    test('rejects a Service with a bad port type', () => {
      const svc = valid().find((m) => m.kind === 'Service');
      svc.spec.ports[0].port = '5432';
      expect(() => validateManifest(svc)).toThrow(/port must be integer/);
    });

    test('rejects a container without a name', () => {
      const sts = statefulSet(valid());
      delete sts.spec.template.spec.containers[0].name;
      expect(() => validateManifest(sts)).toThrow(/name/);
    });

    test('fails for a kind it has no model for', () => {
      expect(() => validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toThrow(/no Kubernetes schema model for example.com\/v1\/Widget/);
      expect(() => validateManifest({ apiVersion: 'apps/v1beta1', kind: 'StatefulSet', metadata: { name: 's' } })).toThrow(/no Kubernetes schema model/);
    });

    test('example objects parsed from YAML keep their types (ports are numbers)', () => {
      const svc = exampleManifests('basic').find((m) => m.kind === 'Service')!;
      expect(typeof svc.spec.ports[0].port).toBe('number');
    });
  });
});
