/**
 * The checks `validate` runs (src/validate): each one catches what it looks for, names the object
 * and the rule, and passes the library's own output (the invariant tests run them on every case).
 */
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { stringify } from 'yaml';
import { ApiServerAccess } from '../src';
import { Manifest, synthCluster } from './helpers/manifests';
import { validatePaths } from '../src/cli/commands/validate';
import { CHECKS, runChecks } from '../src/validate';
import { parseManifests, podTemplates } from '../src/validate/manifest';
import { quantity, formatBytes, formatCpu } from '../src/validate/quantity';
import { selectedTemplates } from '../src/validate/selectors';

/** A default cluster, deep-copied so a test can break it. */
function fresh(): any[] {
  return JSON.parse(JSON.stringify(synthCluster())) as any[];
}
const get = (ms: any[], kind: string, name: string) => ms.find((m) => m.kind === kind && m.metadata.name === name);
const errors = (ms: Manifest[], check?: string) => runChecks(ms, check ? [check] : undefined).filter((f) => f.severity === 'error');

describe('validate checks', () => {
  test('a default cluster has no finding at all', () => {
    expect(runChecks(fresh())).toEqual([]);
  });

  test.each<[string, string, (ms: any[]) => void, RegExp]>([
    ['schema', 'a string replica count', (ms) => { get(ms, 'StatefulSet', 'db-primary').spec.replicas = 'one'; },
      /^StatefulSet\/db-primary: .*replicas must be integer/],
    ['restricted', 'a privileged container', (ms) => { get(ms, 'StatefulSet', 'db-replica').spec.template.spec.containers[0].securityContext.privileged = true; },
      /^StatefulSet\/db-replica container postgres: privileged must be false$/],
    ['references', 'a ConfigMap volume that names no ConfigMap', (ms) => {
      get(ms, 'StatefulSet', 'db-primary').spec.template.spec.volumes.push({ name: 'extra', configMap: { name: 'nowhere' } });
    }, /^StatefulSet\/db-primary -> ConfigMap\/nowhere: not in the output$/],
    ['references', 'a mount of no volume', (ms) => {
      get(ms, 'StatefulSet', 'db-primary').spec.template.spec.containers[0].volumeMounts.push({ name: 'ghost', mountPath: '/ghost' });
    }, /^StatefulSet\/db-primary container postgres: volume mount ghost names no volume or claim template$/],
    ['references', 'a RoleBinding to a missing Role', (ms) => { ms.find((m) => m.kind === 'RoleBinding').roleRef.name = 'gone'; },
      /^RoleBinding\/.*: binds Role\/gone, which is not in the output$/],
    ['selectors', 'a Service selecting nothing', (ms) => { get(ms, 'Service', 'db-pods').spec.selector = { app: 'nothing' }; },
      /^Service\/db-pods: spec.selector \{"app":"nothing"\} selects no/],
    ['selectors', 'a Service port targeting a port no container has', (ms) => { get(ms, 'Service', 'db-primary').spec.ports[0].targetPort = 'nope'; },
      /^Service\/db-primary: port postgres targets nope, which no container of StatefulSet\/db-primary exposes$/],
    ['selectors', 'a StatefulSet whose selector misses its pods', (ms) => { get(ms, 'StatefulSet', 'db-replica').spec.selector.matchLabels.x = 'y'; },
      /^StatefulSet\/db-replica: spec.selector.matchLabels .* does not select its own pod template$/],
    ['selectors', 'a probe on a port the container does not expose', (ms) => {
      const c = get(ms, 'StatefulSet', 'db-primary').spec.template.spec.containers[0];
      c.readinessProbe = { tcpSocket: { port: 'missing' } };
    }, /^StatefulSet\/db-primary container postgres: a probe uses port missing/],
    ['names', 'an upper-case Service name', (ms) => { get(ms, 'Service', 'db-pods').metadata.name = 'DB-pods'; },
      /^Service\/DB-pods: the name must be a DNS-1123 label/],
    ['names', 'a port name over 15 characters', (ms) => { get(ms, 'StatefulSet', 'db-primary').spec.template.spec.containers[0].ports[0].name = 'a-very-long-port-name'; },
      /^StatefulSet\/db-primary container postgres: port name a-very-long-port-name must be an IANA service name/],
    ['names', 'the same object twice', (ms) => { ms.push(JSON.parse(JSON.stringify(get(ms, 'Service', 'db-pods')))); },
      /^Service\/db-pods: defined more than once$/],
    ['names', 'a label value with a space', (ms) => { get(ms, 'Service', 'db-pods').metadata.labels.team = 'a b'; },
      /^Service\/db-pods metadata.labels: label team value "a b" is not a valid label value/],
    ['resources', 'a memory limit below the request', (ms) => {
      get(ms, 'StatefulSet', 'db-primary').spec.template.spec.containers[0].resources.limits.memory = '1Mi';
    }, /^StatefulSet\/db-primary container postgres: memory limit 1Mi < request/],
    ['secrets', 'a password in a ConfigMap', (ms) => { ms.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'leak' }, data: { PGPASSWORD: 'hunter2' } }); },
      /^ConfigMap\/leak PGPASSWORD: PGPASSWORD has a literal value$/],
  ])('%s: %s', (check, _what, breakIt, message) => {
    const ms = fresh();
    breakIt(ms);
    const found = runChecks(ms).filter((f) => f.severity === 'error');
    expect(found.map((f) => f.message)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
    const f = found.find((x) => message.test(x.message))!;
    expect(f.check).toBe(check);
    expect(f.message.startsWith(f.object)).toBe(true);
  });

  test('a Secret reference nothing creates is a warning, not an error', () => {
    const ms = fresh();
    get(ms, 'StatefulSet', 'db-primary').spec.template.spec.imagePullSecrets = [{ name: 'registry' }];
    const found = runChecks(ms);
    expect(found).toEqual([expect.objectContaining({
      check: 'references', severity: 'warning', object: 'StatefulSet/db-primary', message: expect.stringMatching(/^StatefulSet\/db-primary -> Secret\/registry: .*must exist in the cluster$/),
    })]);
  });

  test('a kind with no known schema is a warning (not checked), not an error', () => {
    const widget = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(runChecks([widget])).toEqual([{ check: 'schema', severity: 'warning', object: 'Widget/w', message: 'Widget/w: example.com/v1/Widget has no known schema; not checked' }]);
  });

  test('errors come before warnings; only the named checks run; an unknown check name is refused', () => {
    const ms = fresh();
    get(ms, 'StatefulSet', 'db-primary').spec.template.spec.imagePullSecrets = [{ name: 'registry' }];
    get(ms, 'Service', 'db-pods').metadata.name = 'DB';
    expect(runChecks(ms).map((f) => f.severity)).toEqual(['error', 'warning']);
    expect(runChecks(ms, ['names']).map((f) => f.check)).toEqual(['names']);
    expect(errors(ms, 'schema')).toEqual([]);
    expect(() => runChecks(ms, ['nope'])).toThrow('unknown check nope: the checks are schema, restricted, references, selectors, names, resources, secrets, ca-key, api-server');
  });

  test('every check has a name and a description', () => {
    expect(CHECKS.map((c) => c.name)).toEqual(['schema', 'restricted', 'references', 'selectors', 'names', 'resources', 'secrets', 'ca-key', 'api-server']);
    for (const c of CHECKS) expect(c.description.length).toBeGreaterThan(10);
  });
});

describe('quantities', () => {
  test.each<[string | number, number]>([['500m', 0.5], ['2', 2], [3, 3], ['1Gi', 1024 ** 3], ['512Mi', 512 * 1024 ** 2], ['1k', 1000]])('%s', (q, n) => {
    expect(quantity(q)).toBe(n);
  });
  test('rejects what is not a quantity', () => {
    expect(() => quantity('lots')).toThrow('unparseable quantity lots');
  });
  test('formats bytes and cores for people', () => {
    expect([formatBytes(512 * 1024 ** 2), formatBytes(1.5 * 1024 ** 3), formatBytes(10 * 1024 ** 3), formatBytes(100), formatBytes(4288 * 1024 ** 2)]).toEqual(['512Mi', '1.5Gi', '10Gi', '100', '4288Mi']);
    expect([formatCpu(0.25), formatCpu(1), formatCpu(1.5)]).toEqual(['250m', '1', '1.5']);
  });
});

describe('parseManifests', () => {
  test('skips empty documents and names the syntax problem', () => {
    expect(parseManifests('---\na: 1\n---\n').length).toBe(1);
    expect(() => parseManifests('a: [1\n')).toThrow(/^invalid YAML: /);
  });
});

describe('references to claims', () => {
  test('a claim a StatefulSet\'s claim template creates (<template>-<sts>-<ordinal>) resolves; another does not', () => {
    const ms = fresh();
    const sts = get(ms, 'StatefulSet', 'db-replica');
    sts.spec.template.spec.volumes.push({ name: 'peer', persistentVolumeClaim: { claimName: 'pgdata-db-primary-0' } });
    expect(errors(ms, 'references')).toEqual([]);
    sts.spec.template.spec.volumes.push({ name: 'far', persistentVolumeClaim: { claimName: 'pgdata-db-primary-1' } });
    expect(errors(ms, 'references').map((f) => f.message)).toEqual(['StatefulSet/db-replica -> PersistentVolumeClaim/pgdata-db-primary-1: not in the output']);
  });
});

describe('Services that select by the role Patroni sets', () => {
  test('select only member pods: another StatefulSet of the cluster (a repository host) is not checked against their ports', () => {
    const ms = fresh();
    ms.push({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db-repo-host' },
      spec: {
        replicas: 1,
        serviceName: 'db-repo-host',
        selector: { matchLabels: { 'app.kubernetes.io/component': 'repo-host' } },
        template: {
          metadata: { labels: { 'app.kubernetes.io/component': 'repo-host', 'postgres.cdk8s.io/cluster': 'db' } },
          spec: { containers: [{ name: 'pgbackrest', image: 'x', ports: [{ name: 'pgbackrest', containerPort: 8432 }] }] },
        },
      },
    });
    expect(errors(ms, 'selectors')).toEqual([]);
    // The read-write Service selects the members (any may lead), never the repository host.
    const selected = selectedTemplates(get(ms, 'Service', 'db-primary'), podTemplates(ms)).map((t) => t.owner.metadata.name);
    expect(selected).toEqual(['db-primary', 'db-replica']);
    // The members Service selects on all its labels: the repository host lacks app.kubernetes.io/name=postgresql.
    expect(selectedTemplates(get(ms, 'Service', 'db-pods'), podTemplates(ms)).map((t) => t.owner.metadata.name)).toEqual(['db-primary', 'db-replica']);
  });
});

describe('the api-server check: the API server egress against the CNI', () => {
  const apiWarnings = (ms: Manifest[], cni?: string) => runChecks(ms, ['api-server'], { cni }).map((f) => `${f.severity} ${f.object}`);
  const anywhere = synthCluster();
  const cilium = synthCluster({ network: { apiServer: ApiServerAccess.cilium() } });
  const apiPods = (ms: Manifest[]) => podTemplates(ms).filter((t) => ['postgresql', 'postgresql-credentials', 'postgresql-ca', 'postgresql-config'].includes(t.metadata.labels?.['app.kubernetes.io/name'] ?? ''))
    .map((t) => `warning ${t.owner.kind}/${t.owner.metadata.name}`).sort();

  test('the CNI unknown and no Cilium object in the output: nothing is known, no finding', () => {
    expect(apiWarnings(anywhere)).toEqual([]);
  });

  test('--cni cilium: every pod whose only API rule is an ipBlock is warned about (anywhere() and cidrs())', () => {
    expect(apiWarnings(anywhere, 'cilium').sort()).toEqual(apiPods(anywhere));
    expect(apiWarnings(anywhere, 'cilium').length).toBeGreaterThanOrEqual(4);
    const cidrs = synthCluster({ network: { apiServer: ApiServerAccess.cidrs(['10.0.0.10/32'], [6443]) } });
    expect(apiWarnings(cidrs, 'Cilium').sort()).toEqual(apiPods(cidrs));
    const [first] = runChecks(anywhere, ['api-server'], { cni: 'cilium' });
    expect(first.message).toMatch(/only through an ipBlock on 443\/6443, which Cilium never matches against node IPs by default/);
    expect(first.message).toMatch(/ApiServerAccess.cilium\(\)/);
  });

  test('ApiServerAccess.cilium() under Cilium: no finding (the CiliumNetworkPolicy to kube-apiserver covers the pods)', () => {
    expect(apiWarnings(cilium, 'cilium')).toEqual([]);
    // Cilium objects in the output say the CNI by themselves.
    expect(apiWarnings(cilium)).toEqual([]);
  });

  test('ApiServerAccess.cilium() under another CNI: the pods that rely on it are warned about', () => {
    expect(apiWarnings(cilium, 'calico').sort()).toEqual(apiPods(cilium));
    expect(runChecks(cilium, ['api-server'], { cni: 'calico' })[0].message).toMatch(/only CiliumNetworkPolicy\/db-api-server lets its pods reach the Kubernetes API server, and calico does not enforce/);
  });

  test('anywhere() under another CNI, and pods under no egress policy: no finding', () => {
    expect(apiWarnings(anywhere, 'calico')).toEqual([]);
    expect(apiWarnings(synthCluster({ network: { policies: false } }), 'cilium')).toEqual([]);
  });

  test('a Cilium object in the output makes ipBlock-only pods findings even without --cni', () => {
    const mixed = [...anywhere, { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'other' }, spec: { endpointSelector: { matchLabels: { app: 'x' } } } }];
    expect(apiWarnings(mixed).sort()).toEqual(apiPods(anywhere));
  });

  test('the CLI takes --cni', () => {
    const dir = mkdtempSync(join(tmpdir(), 'api-server-'));
    writeFileSync(join(dir, 'db.k8s.yaml'), anywhere.map((m) => stringify(m)).join('---\n'));
    const cli = validatePaths([dir], { cni: 'cilium' });
    expect(cli.exitCode).toBe(0);
    expect(cli.report).toMatch(/warning +\[api-server\] StatefulSet\/db-primary: its pods reach the Kubernetes API server only through an ipBlock/);
    expect(validatePaths([dir]).report).not.toMatch(/api-server/);
  });
});

describe('the ca-key check: nothing but cert-manager reads a CA\'s private key', () => {
  test('the library\'s own output passes', () => {
    expect(runChecks(synthCluster({ pooler: {}, users: [{ name: 'app_user' }] }), ['ca-key'])).toEqual([]);
  });

  test('an application pod mounting the CA Secret is an error; a ConfigMap handing its name out is a warning', () => {
    const ms = synthCluster();
    const app = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'shop' },
      spec: {
        selector: { matchLabels: { app: 'shop' } },
        template: {
          metadata: { labels: { app: 'shop' } },
          spec: {
            containers: [{ name: 'shop', image: 'shop:1' }], volumes: [{ name: 'ca', secret: { secretName: 'db-ca' } }],
          },
        },
      },
    };
    const settings = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shop-settings' }, data: { DATABASE_CA_SECRET: 'db-ca', DATABASE_CA: 'db-ca-cert' } };
    const findings = runChecks([...ms, app, settings], ['ca-key']);
    expect(findings.map((f) => `${f.severity} ${f.object}`)).toEqual(['error Deployment/shop', 'warning ConfigMap/shop-settings']);
    expect(findings[0].message).toMatch(/reads Secret\/db-ca, which holds a CA's private key/);
    expect(findings[1].message).toMatch(/DATABASE_CA_SECRET names Secret\/db-ca/);
  });
});
