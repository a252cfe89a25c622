/**
 * NetworkPolicies: a default deny over every pod of the cluster, then only what each part needs
 * (members: each other, the Jobs and the pooler, clients, scrapers, DNS, the API server; the
 * credentials and access Jobs: DNS, the API server and the members' PostgreSQL port; the pooler:
 * clients in, DNS and the members out). Selectors are checked against the pod templates' labels,
 * not just by name.
 */
import { Duration, Testing } from 'cdk8s';
import { ApiServerAccess, BackupRepository, NetworkPeer, PostgresCluster, PostgresClusterProps } from '../src';
import { Manifest, find, ofKind, podTemplates, synthCluster } from './helpers/manifests';

const DNS = [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }];
const API_PORTS = [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }];
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));
const MEMBERS = { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgresql', 'postgres.cdk8s.io/cluster': 'db' } } };
const jobsSelector = (cluster: string) => ({
  matchLabels: { 'postgres.cdk8s.io/cluster': cluster },
  matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['postgresql-credentials', 'postgresql-access'] }],
});
const JOBS = { podSelector: jobsSelector('db') };

interface Requirement { key: string; operator: string; values?: string[] }

/** Label selection as the API server does it (matchLabels and matchExpressions): an empty selector selects everything. */
function matches(selector: { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] }, labels: Record<string, string> = {}): boolean {
  const expressions = (selector.matchExpressions ?? []).every((e) => {
    switch (e.operator) {
      case 'In': return e.key in labels && (e.values ?? []).includes(labels[e.key]);
      case 'NotIn': return !(e.key in labels) || !(e.values ?? []).includes(labels[e.key]);
      case 'Exists': return e.key in labels;
      case 'DoesNotExist': return !(e.key in labels);
      default: throw new Error(`unknown operator ${e.operator}`);
    }
  });
  return expressions && Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/** `Kind/name` of the pod templates a policy applies to. */
function selectedPods(m: Manifest[], policy: Manifest): string[] {
  return podTemplates(m).filter((t) => matches(policy.spec.podSelector, t.metadata.labels)).map((t) => `${t.owner.kind}/${t.owner.metadata.name}`).sort();
}

const policies = (m: Manifest[]) => ofKind(m, 'NetworkPolicy');

describe('defaults', () => {
  const m = synthCluster({ delayedReplicas: { applyDelay: Duration.hours(1) } });
  const job = ofKind(m, 'Job').find((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-credentials')!;
  const configJob = ofKind(m, 'Job').find((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-config')!;
  const allPods = podTemplates(m).map((t) => `${t.owner.kind}/${t.owner.metadata.name}`).sort();
  const memberPods = ofKind(m, 'StatefulSet').map((s) => `StatefulSet/${s.metadata.name}`).sort();
  const publisherPods = podTemplates(m).filter((t) => t.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-ca')
    .map((t) => `${t.owner.kind}/${t.owner.metadata.name}`).sort();

  test('five policies', () => {
    expect(policies(m).map((p) => p.metadata.name).sort()).toEqual(['db-config', 'db-default-deny', 'db-jobs', 'db-members', 'db-publish-ca']);
  });

  test('the default deny selects every pod of the cluster: members, the credentials and config Jobs, the config and restart CronJobs and the CA publisher', () => {
    const deny = find(m, 'NetworkPolicy', 'db-default-deny');
    expect(deny.spec).toEqual({ podSelector: { matchLabels: { 'postgres.cdk8s.io/cluster': 'db' } }, policyTypes: ['Ingress', 'Egress'] });
    expect(publisherPods).toEqual(['CronJob/db-publish-ca', expect.stringMatching(/^Job\/db-publish-ca-[0-9a-f]{8}$/)]);
    expect(allPods).toEqual([...memberPods, `Job/${job.metadata.name}`, `Job/${configJob.metadata.name}`, 'CronJob/db-reconcile', 'CronJob/db-restart', ...publisherPods].sort());
    expect(allPods.length).toBe(9);
    expect(selectedPods(m, deny)).toEqual(allPods);
  });

  test('every pod is selected by some allow policy besides the deny (nothing is left fully isolated by accident)', () => {
    const allows = policies(m).filter((p) => p.metadata.name !== 'db-default-deny');
    for (const pod of allPods) expect([pod, allows.some((p) => selectedPods(m, p).includes(pod))]).toEqual([pod, true]);
  });

  test('the members policy selects exactly the member pods', () => {
    expect(selectedPods(m, find(m, 'NetworkPolicy', 'db-members'))).toEqual(memberPods);
  });

  test('the jobs policy selects exactly the credentials Job\'s pod; the config policy the config Job\'s and both CronJobs\'', () => {
    expect(selectedPods(m, find(m, 'NetworkPolicy', 'db-jobs'))).toEqual([`Job/${job.metadata.name}`]);
    expect(selectedPods(m, find(m, 'NetworkPolicy', 'db-config'))).toEqual(['CronJob/db-reconcile', 'CronJob/db-restart', `Job/${configJob.metadata.name}`]);
  });

  test('members ingress: members on PostgreSQL and Patroni, the Jobs on PostgreSQL, clients from the namespace on PostgreSQL, scrapers from any namespace, the config Job on Patroni', () => {
    expect(find(m, 'NetworkPolicy', 'db-members').spec.ingress).toEqual([
      { from: [MEMBERS], ports: tcp(5432, 8008) },
      { from: [JOBS], ports: tcp(5432) },
      { from: [{ podSelector: {} }], ports: tcp(5432) },
      { from: [{ namespaceSelector: {} }], ports: tcp(8010, 9187) },
      { from: [{ podSelector: { matchLabels: { 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/name': 'postgresql-config' } } }], ports: tcp(8008) },
    ]);
  });

  test('the member peer selector matches every member pod and not the Job\'s', () => {
    for (const t of podTemplates(m)) {
      expect([t.owner.metadata.name, matches(MEMBERS.podSelector, t.metadata.labels)]).toEqual([t.owner.metadata.name, t.owner.kind === 'StatefulSet']);
    }
  });

  test('members egress: members, DNS over UDP and TCP, the API server on 443 and 6443 anywhere', () => {
    const spec = find(m, 'NetworkPolicy', 'db-members').spec;
    expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(spec.egress).toEqual([
      { to: [MEMBERS], ports: tcp(5432, 8008) },
      { ports: DNS },
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: API_PORTS },
    ]);
  });

  test('the allowed ports are the ones the containers listen on', () => {
    const spec = find(m, 'NetworkPolicy', 'db-members').spec;
    const allowed = new Set<number>(spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port)));
    for (const sts of ofKind(m, 'StatefulSet')) {
      const listening = new Set<number>(sts.spec.template.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.containerPort)));
      expect([...listening].sort()).toEqual([...allowed].sort());
    }
  });

  test('jobs: no ingress at all; egress only DNS, the API server and the members\' PostgreSQL port', () => {
    expect(find(m, 'NetworkPolicy', 'db-jobs').spec).toEqual({
      podSelector: jobsSelector('db'),
      policyTypes: ['Ingress', 'Egress'],
      egress: [
        { ports: DNS },
        { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: API_PORTS },
        { to: [MEMBERS], ports: tcp(5432) },
      ],
    });
  });

  test('the CA publisher: no ingress; egress only DNS and the API server (never the members)', () => {
    const policy = find(m, 'NetworkPolicy', 'db-publish-ca');
    expect(selectedPods(m, policy)).toEqual(publisherPods);
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/name': 'postgresql-ca' } },
      policyTypes: ['Ingress', 'Egress'],
      egress: [{ ports: DNS }, { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: API_PORTS }],
    });
  });

  test('policies carry the cluster labels', () => {
    for (const p of policies(m)) expect(p.metadata.labels).toMatchObject({ 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/instance': 'db' });
  });
});

describe('without the metrics exporter', () => {
  test('scrapers reach only the heartbeat port', () => {
    const m = synthCluster({ monitoring: { metrics: { enabled: false } } });
    const ingress = find(m, 'NetworkPolicy', 'db-members').spec.ingress;
    expect(ingress[3]).toEqual({ from: [{ namespaceSelector: {} }], ports: tcp(8010) });
    expect(JSON.stringify(ingress)).not.toContain('9187');
  });
});

describe('custom peers', () => {
  const m = synthCluster({
    network: {
      allowFrom: [
        NetworkPeer.pods({ app: 'api' }),
        NetworkPeer.namespaces({ 'kubernetes.io/metadata.name': 'reporting' }),
        NetworkPeer.podsInNamespaces({ app: 'etl' }, { team: 'data' }),
        NetworkPeer.cidr('192.168.10.0/24'),
        NetworkPeer.sameNamespace(),
      ],
      metricsFrom: [NetworkPeer.namespaces({ 'kubernetes.io/metadata.name': 'monitoring' }), NetworkPeer.anyNamespace()],
      apiServerCidrs: ['10.96.0.1/32', 'fd00::1/128'],
    },
  });
  const spec = find(m, 'NetworkPolicy', 'db-members').spec;

  test('clients: the given peers, rendered as NetworkPolicy peers, on the PostgreSQL port', () => {
    expect(spec.ingress[2]).toEqual({
      from: [
        { podSelector: { matchLabels: { app: 'api' } } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'reporting' } } },
        { podSelector: { matchLabels: { app: 'etl' } }, namespaceSelector: { matchLabels: { team: 'data' } } },
        { ipBlock: { cidr: '192.168.10.0/24' } },
        { podSelector: {} },
      ],
      ports: tcp(5432),
    });
  });

  test('NetworkPeer.pods admits the cluster namespace\'s pods only (a bare podSelector); podsInNamespace names another namespace', () => {
    // A NetworkPolicy peer with a podSelector and no namespaceSelector means "in the policy's namespace".
    expect(NetworkPeer.pods({ app: 'api' })._peer).toEqual({ podSelector: { matchLabels: { app: 'api' } } });
    expect(NetworkPeer.podsInNamespace({ app: 'api' }, 'frontend')._peer).toEqual({
      podSelector: { matchLabels: { app: 'api' } },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'frontend' } },
    });
    const rendered = synthCluster({ network: { allowFrom: [NetworkPeer.podsInNamespace({ app: 'api' }, 'frontend')] } });
    expect(find(rendered, 'NetworkPolicy', 'db-members').spec.ingress[2].from).toEqual([NetworkPeer.podsInNamespace({ app: 'api' }, 'frontend')._peer]);
    expect(() => NetworkPeer.podsInNamespace({ app: 'api' }, 'Front End'))
      .toThrow('NetworkPeer.podsInNamespace: invalid namespace "Front End": must be a DNS label (lower-case letters, digits and \'-\', at most 63 characters)');
  });

  test('scrapers: the given peers on the metrics ports', () => {
    expect(spec.ingress[3]).toEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }, { namespaceSelector: {} }],
      ports: tcp(8010, 9187),
    });
  });

  test('members are always allowed to each other and to the Jobs, whatever the client peers', () => {
    expect(spec.ingress[0]).toEqual({ from: [MEMBERS], ports: tcp(5432, 8008) });
    expect(spec.ingress[1]).toEqual({ from: [JOBS], ports: tcp(5432) });
    expect(spec.egress[0]).toEqual({ to: [MEMBERS], ports: tcp(5432, 8008) });
  });

  test('the API server CIDRs restrict Patroni\'s and the Job\'s API egress', () => {
    const api = { to: [{ ipBlock: { cidr: '10.96.0.1/32' } }, { ipBlock: { cidr: 'fd00::1/128' } }], ports: API_PORTS };
    expect(spec.egress[2]).toEqual(api);
    expect(find(m, 'NetworkPolicy', 'db-jobs').spec.egress).toEqual([{ ports: DNS }, api, { to: [MEMBERS], ports: tcp(5432) }]);
  });

  test('an empty peer list allows no one', () => {
    const none = synthCluster({ network: { allowFrom: [], metricsFrom: [] } });
    const ingress = find(none, 'NetworkPolicy', 'db-members').spec.ingress;
    expect(ingress[1]).toEqual({ from: [JOBS], ports: tcp(5432) });
    expect(ingress[2]).toEqual({ from: [], ports: tcp(5432) });
    expect(ingress[3]).toEqual({ from: [], ports: tcp(8010, 9187) });
  });
});

describe('a custom port and cluster name', () => {
  test('the policies follow the PostgreSQL port and the cluster name', () => {
    const m = synthCluster({ clusterName: 'orders', config: { database: { port: 6543 } } }, { namespace: 'shop' });
    expect(policies(m).map((p) => p.metadata.name).sort()).toEqual(['orders-config', 'orders-default-deny', 'orders-jobs', 'orders-members', 'orders-publish-ca']);
    const spec = find(m, 'NetworkPolicy', 'orders-members').spec;
    const members = { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgresql', 'postgres.cdk8s.io/cluster': 'orders' } } };
    expect(spec.ingress[0]).toEqual({ from: [members], ports: tcp(6543, 8008) });
    expect(spec.ingress[1]).toEqual({ from: [{ podSelector: jobsSelector('orders') }], ports: tcp(6543) });
    expect(spec.ingress[2]).toEqual({ from: [{ podSelector: {} }], ports: tcp(6543) });
    expect(spec.egress[0]).toEqual({ to: [members], ports: tcp(6543, 8008) });
    expect(JSON.stringify(spec)).not.toContain('5432');
    for (const p of policies(m)) {
      expect(p.metadata.namespace).toBe('shop');
      expect(selectedPods(m, p).length).toBeGreaterThan(0);
    }
    expect(selectedPods(m, find(m, 'NetworkPolicy', 'orders-default-deny'))).toEqual(
      podTemplates(m).map((t) => `${t.owner.kind}/${t.owner.metadata.name}`).sort());
  });

  test('two clusters in one namespace do not select each other\'s pods', () => {
    const chart = Testing.chart();
    new PostgresCluster(chart, 'a');
    new PostgresCluster(chart, 'b');
    const m = Testing.synth(chart) as Manifest[];
    for (const p of policies(m)) {
      const cluster = p.metadata.name.split('-')[0];
      for (const pod of selectedPods(m, p)) expect([p.metadata.name, pod]).toEqual([p.metadata.name, expect.stringMatching(new RegExp(`/${cluster}-`))]);
    }
  });
});

describe('policies: false', () => {
  test('emits no NetworkPolicy', () => {
    expect(policies(synthCluster({ network: { policies: false } }))).toEqual([]);
  });

  test('peers given with policies off change nothing else', () => {
    const off = synthCluster({ network: { policies: false } });
    const offWithPeers = synthCluster({ network: { policies: false, allowFrom: [NetworkPeer.cidr('10.0.0.0/8')] } });
    expect(offWithPeers).toEqual(off);
  });
});

describe('validation', () => {
  function errorOf(props: PostgresClusterProps): string {
    try {
      new PostgresCluster(Testing.chart(), 'db', props);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the cluster to be refused');
  }

  test.each([
    [['10.0.0.1'], 0, '10.0.0.1'],
    [['10.96.0.1/32', 'kubernetes.default'], 1, 'kubernetes.default'],
    [[''], 0, ''],
  ])('apiServerCidrs %j is refused, naming the entry', (apiServerCidrs, i, value) => {
    expect(errorOf({ network: { apiServerCidrs } }))
      .toBe(`test/db: invalid network.apiServerCidrs[${i}] = ${JSON.stringify(value)}: must be a CIDR block such as 10.0.0.1/32`);
  });
});

describe('how the pods reach the API server (network.apiServer)', () => {
  const apiRules = (m: Manifest[]) => policies(m).flatMap((p) => (p.spec.egress ?? [])
    .filter((r: any) => (r.ports ?? []).some((x: any) => x.port === 443 || x.port === 6443 || x.port === 8443))
    .map((r: any) => [p.metadata.name, r]));

  test('anywhere() (the default): an ipBlock rule on 443 and 6443 in the members\', the jobs\', the config Job\'s and the CA publisher\'s policies', () => {
    const rule = { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: API_PORTS };
    expect(apiRules(synthCluster())).toEqual([['db-members', rule], ['db-jobs', rule], ['db-config', rule], ['db-publish-ca', rule]]);
    expect(apiRules(synthCluster({ network: { apiServer: ApiServerAccess.anywhere() } }))).toEqual(apiRules(synthCluster()));
  });

  test('cidrs(cidrs, ports): the API server\'s own addresses and port; apiServerCidrs is the same with 443 and 6443', () => {
    const m = synthCluster({ network: { apiServer: ApiServerAccess.cidrs(['172.18.0.2/32', 'fd00::2/128'], [6443]) } });
    const rule = { to: [{ ipBlock: { cidr: '172.18.0.2/32' } }, { ipBlock: { cidr: 'fd00::2/128' } }], ports: tcp(6443) };
    expect(apiRules(m)).toEqual([['db-members', rule], ['db-jobs', rule], ['db-config', rule], ['db-publish-ca', rule]]);
    expect(apiRules(synthCluster({ network: { apiServerCidrs: ['172.18.0.2/32'] } })))
      .toEqual(apiRules(synthCluster({ network: { apiServer: ApiServerAccess.cidrs(['172.18.0.2/32'], [443, 6443]) } })));
    expect(ofKind(m, 'CiliumNetworkPolicy')).toEqual([]);
  });

  describe('cilium()', () => {
    const m = synthCluster({ users: [{ name: 'app_user' }], pooler: {}, backup: { repositories: [BackupRepository.volume()] } });
    const cm = synthCluster({ users: [{ name: 'app_user' }], pooler: {}, backup: { repositories: [BackupRepository.volume()] }, network: { apiServer: ApiServerAccess.cilium() } });

    test('a CiliumNetworkPolicy allows the kube-apiserver entity on 443 and 6443; the Kubernetes policies carry no API rule', () => {
      expect(apiRules(cm)).toEqual([]);
      const cnp = find(cm, 'CiliumNetworkPolicy', 'db-api-server');
      expect(cnp.apiVersion).toBe('cilium.io/v2');
      expect(cnp.spec.egress).toEqual([{
        toEntities: ['kube-apiserver'],
        toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }, { port: '6443', protocol: 'TCP' }] }],
      }]);
      // Everything else is as with the Kubernetes rule.
      const withoutApi = (ms: Manifest[]) => JSON.stringify(policies(ms).map((p) => ({
        ...p.spec, egress: (p.spec.egress ?? []).filter((r: any) => !(r.ports ?? []).some((x: any) => x.port === 6443)),
      })));
      expect(withoutApi(cm)).toBe(withoutApi(m));
    });

    test('it selects exactly the pods that call the API server: members, the credentials Job, the config Job, the CA publisher', () => {
      const cnp = find(cm, 'CiliumNetworkPolicy', 'db-api-server');
      const selected = podTemplates(cm).filter((t) => matches(cnp.spec.endpointSelector, t.metadata.labels)).map((t) => t.metadata.labels?.['app.kubernetes.io/name']);
      expect([...new Set(selected)].sort()).toEqual(['postgresql', 'postgresql-ca', 'postgresql-config', 'postgresql-credentials']);
      // Those that use the API in the Kubernetes form are the same pods.
      const kube = policies(m).filter((p) => apiRules([p]).length > 0).flatMap((p) => selectedPods(m, p));
      const cilium = podTemplates(cm).filter((t) => matches(cnp.spec.endpointSelector, t.metadata.labels)).map((t) => `${t.owner.kind}/${t.owner.metadata.name}`);
      for (const pod of cilium) expect(kube).toContain(pod);
      for (const pod of kube.filter((p) => !p.includes('-access-'))) expect(cilium).toContain(pod);
    });

    test('custom ports', () => {
      const custom = synthCluster({ network: { apiServer: ApiServerAccess.cilium([6443]) } });
      expect(find(custom, 'CiliumNetworkPolicy', 'db-api-server').spec.egress[0].toPorts).toEqual([{ ports: [{ port: '6443', protocol: 'TCP' }] }]);
    });
  });

  test('refused: both apiServer and apiServerCidrs, no CIDR, a bad CIDR or port', () => {
    const refused = (network: PostgresClusterProps['network']) => () => new PostgresCluster(Testing.chart(), 'db', { network });
    expect(refused({ apiServer: ApiServerAccess.anywhere(), apiServerCidrs: ['10.0.0.1/32'] }))
      .toThrow('test/db: invalid network.apiServerCidrs = ["10.0.0.1/32"]: set network.apiServer or network.apiServerCidrs, not both');
    expect(refused({ apiServer: ApiServerAccess.cidrs([]) }))
      .toThrow('test/db: invalid network.apiServer.cidrs = []: must list at least one CIDR block (an empty list lets no pod reach the API server)');
    expect(refused({ apiServer: ApiServerAccess.cidrs(['10.0.0.300/32']) }))
      .toThrow('test/db: invalid network.apiServer.cidrs[0] = "10.0.0.300/32": must be a CIDR block such as 10.0.0.1/32');
    expect(refused({ apiServer: ApiServerAccess.cilium([0]) })).toThrow('test/db: invalid network.apiServer.ports[0] = 0: must be a whole number from 1 to 65535');
    expect(refused({ apiServer: ApiServerAccess.cidrs(['10.0.0.1/32'], []) })).toThrow('test/db: invalid network.apiServer.ports = []: must list at least one port');
  });
});
