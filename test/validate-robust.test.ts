/**
 * `validate` over malformed manifests: every check turns what it cannot read into a finding that
 * names the object and the field, and goes on with the rest; no exception escapes. Property test
 * over mutated copies of the production example (a field deleted or given a wrong type).
 */
import * as fc from 'fast-check';
import { exampleManifests, Manifest } from './helpers/manifests';
import { locate } from '../src/cli/report';
import { CHECKS, runChecks } from '../src/validate';
import { isObjectDocument } from '../src/validate/guard';

const production = exampleManifests('production');

/** Every field path of an object (as key lists), inner and leaf. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
}

type Mutation = 'delete' | 'null' | 'number' | 'list' | 'string' | 'mapping';
const WRONG: Record<Exclude<Mutation, 'delete'>, unknown> = { null: null, number: 7, list: [1, 'x'], string: 'x', mapping: { a: 1 } };

/** A deep copy of the manifests with one field of one object deleted or replaced. */
function mutate(ms: readonly Manifest[], index: number, path: (string | number)[], how: Mutation): Manifest[] {
  const copy = JSON.parse(JSON.stringify(ms)) as any[];
  let parent: any = copy[index];
  for (const k of path.slice(0, -1)) parent = parent[k];
  const last = path[path.length - 1];
  if (how === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    parent[last] = WRONG[how];
  }
  return copy;
}

const objectPaths = production.map((m) => paths(m));
const mutation = fc
  .integer({ min: 0, max: production.length - 1 })
  .chain((index) => fc.record({
    index: fc.constant(index),
    path: fc.constantFrom(...objectPaths[index]),
    how: fc.constantFrom<Mutation>('delete', 'null', 'number', 'list', 'string', 'mapping'),
  }));

describe('validate over malformed manifests', () => {
  test('no exception escapes any check; what a check cannot read is a finding naming the object and the field', () => {
    fc.assert(
      fc.property(mutation, ({ index, path, how }) => {
        const ms = mutate(production, index, path, how);
        const findings = runChecks(ms);
        for (const f of findings) {
          expect(typeof f.object).toBe('string');
          expect(typeof f.message).toBe('string');
        }
        // An object left without a kind or a name is reported as such and not checked.
        if (!isObjectDocument(ms[index])) {
          expect(findings.some((f) => /: not a Kubernetes object/.test(f.message))).toBe(true);
          return;
        }
        // A check the mutation crashes (run bare) has a finding naming a field of an object.
        for (const check of CHECKS) {
          let crashed = false;
          try {
            check.run(ms, {});
          } catch {
            crashed = true;
          }
          if (!crashed) continue;
          const mine = findings.filter((f) => f.check === check.name && / the [\w-]+ check cannot read it /.test(f.message));
          expect(mine.length).toBeGreaterThan(0);
          for (const f of mine) expect(f.message).toMatch(/^\S+: field \S+ is /);
        }
        // Every finding can be placed in a file (the CLI's report).
        const located = locate([{ file: 'prod.k8s.yaml', manifests: ms }], findings);
        expect(located).toHaveLength(findings.length);
      }),
      { numRuns: 300, seed: 20261201 },
    );
  });

  test('a container list that is a number: one finding naming the object and field, the other objects still checked', () => {
    const ms = JSON.parse(JSON.stringify(production)) as any[];
    const sts = ms.find((m) => m.kind === 'StatefulSet' && m.metadata.name === 'orders-db-primary');
    sts.spec.template.spec.containers = 5;
    const replica = ms.find((m) => m.kind === 'StatefulSet' && m.metadata.name === 'orders-db-replica');
    replica.spec.template.spec.containers[0].securityContext.privileged = true;
    const restricted = runChecks(ms, ['restricted']);
    expect(restricted.map((f) => f.message)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^StatefulSet\/orders-db-primary: field spec\.template\.spec\.containers is number 5: the restricted check cannot read it/),
      expect.stringMatching(/^StatefulSet\/orders-db-replica .*privileged/),
    ]));
  });

  test('a document that is not an object is a finding, not a crash', () => {
    const findings = runChecks([...production, 7 as any, { kind: 'Service', metadata: 3 } as any]);
    expect(findings.filter((f) => /not a Kubernetes object/.test(f.message)).map((f) => f.object)).toEqual(['(document)', 'Service/undefined']);
  });
});

describe('restricted covers every object with a pod spec', () => {
  const privileged = (kind: string, wrap: (pod: any) => any) => ({
    apiVersion: kind === 'Pod' || kind === 'PodTemplate' ? 'v1' : 'apps/v1',
    kind,
    metadata: { name: 'p' },
    ...wrap({ containers: [{ name: 'c', image: 'busybox:1.36', securityContext: { privileged: true } }] }),
  });
  const restricted = (m: any) => runChecks([m], ['restricted']).filter((f) => f.severity === 'error');

  test('a bare Pod with privileged: true fails like the same container in a Deployment', () => {
    const pod = restricted(privileged('Pod', (spec) => ({ spec })));
    const deployment = restricted(privileged('Deployment', (spec) => ({ spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec } } })));
    expect(pod.length).toBeGreaterThan(0);
    expect(pod.map((f) => f.message.replace(/^\w+\/p/, ''))).toEqual(deployment.map((f) => f.message.replace(/^\w+\/p/, '')));
    expect(pod.some((f) => /^Pod\/p container c: .*privileged/.test(f.message))).toBe(true);
  });

  test('a PodTemplate is checked too', () => {
    expect(restricted(privileged('PodTemplate', (spec) => ({ template: { spec } }))).some((f) => /privileged/.test(f.message))).toBe(true);
  });

  test('a workload without a pod spec is a finding naming the field', () => {
    expect(restricted({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: null } } }).map((f) => f.message))
      .toEqual(['CronJob/c: field spec.jobTemplate.spec.template.spec is missing or not a mapping: no pod spec to check']);
  });
});

test('every check a finding names can be run with --check (there is no separate labels check)', () => {
  const ms = JSON.parse(JSON.stringify(production)) as any[];
  ms[0].metadata.labels = { ...(ms[0].metadata.labels ?? {}), team: 'a b' };
  const names = new Set(runChecks(ms).map((f) => f.check));
  expect(names.has('names')).toBe(true);
  for (const n of names) expect(CHECKS.map((c) => c.name)).toContain(n);
});
