/**
 * The PgBouncer pooler: its ConfigMap (pgbouncer.ini routed to the read-write or read-only
 * Service), Deployment, Service, certificate and NetworkPolicy.
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { IssuerKind, NetworkPeer, PoolMode, PostgresCluster, PostgresClusterProps, Resources, Tls } from '../src';
import { Manifest, find, ofKind, podTemplates, selects, synthCluster, synthWith } from './helpers/manifests';
import { RELOAD_ON_CHANGE_SCRIPT } from '../src/render/scripts';
import { RESTRICTED_CONTAINER, restrictedViolations } from '../src/validate/pod-security';

const iniOf = (m: Manifest[], name = 'db-pooler'): Record<string, string> => {
  const text: string = find(m, 'ConfigMap', name).data['pgbouncer.ini'];
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
};
const podOf = (m: Manifest[], name = 'db-pooler') => find(m, 'Deployment', name).spec.template.spec;
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));

describe('no pooler by default', () => {
  test('no Deployment, pooler ConfigMap, Service, Certificate or policy; no pgbouncer Secret', () => {
    const m = synthCluster();
    expect(m.filter((x) => x.metadata.name.includes('pooler'))).toEqual([]);
    expect(ofKind(m, 'Deployment')).toEqual([]);
    // Only post-bootstrap.sh (in the scripts ConfigMap) and the role it installs the pooler's
    // lookup for, at bootstrap, so that a pooler can be added later.
    const rest = m.filter((x) => !(x.kind === 'ConfigMap' && x.metadata.name === 'db-scripts'));
    expect(JSON.stringify(rest).replace(/"name":"PGC_POOLER_USER","value":"cdk8s_pgbouncer"/g, '')).not.toContain('pgbouncer');
  });
});

describe('defaults (cert-manager TLS, namespaced chart)', () => {
  const m = synthCluster({ pooler: {} }, { namespace: 'shop' });
  const ini = iniOf(m);
  const pod = podOf(m);
  const ctr = pod.containers[0];

  test('one pooler: ConfigMap, Deployment, Service and Certificate named <cluster>-pooler; no read-only pooler', () => {
    for (const kind of ['ConfigMap', 'Deployment', 'Service', 'Certificate']) find(m, kind, 'db-pooler');
    expect(m.filter((x) => x.metadata.name === 'db-pooler-ro')).toEqual([]);
  });

  test('pgbouncer.ini routes every database to <cluster>-primary on the PostgreSQL port', () => {
    expect(ini['*']).toBe('host=db-primary port=5432');
    expect(ini.listen_port).toBe('5432');
  });

  test('SCRAM auth through the auth_query user and its function', () => {
    expect(ini.auth_type).toBe('scram-sha-256');
    expect(ini.auth_user).toBe('cdk8s_pgbouncer');
    expect(ini.auth_query).toBe('SELECT usename, passwd FROM cdk8s_pgbouncer.get_auth($1)');
    expect(ini.auth_file).toBe('/etc/pgbouncer-auth/userlist.txt');
  });

  test('default pool: transaction mode, 20 per user and database, 1000 clients', () => {
    expect([ini.pool_mode, ini.default_pool_size, ini.max_client_conn]).toEqual(['transaction', '20', '1000']);
  });

  test('TLS: clients must use TLS with the pooler\'s certificate, the server is verified against the CA', () => {
    expect(ini).toMatchObject({
      client_tls_sslmode: 'require',
      client_tls_cert_file: '/etc/pgbouncer-tls/tls.crt',
      client_tls_key_file: '/etc/pgbouncer-tls/tls.key',
      server_tls_sslmode: 'verify-full',
      server_tls_ca_file: '/etc/pgbouncer-ca/ca.crt',
    });
  });

  test('Deployment: 2 replicas, selector matches its pods and no member, spread over nodes', () => {
    const d = find(m, 'Deployment', 'db-pooler');
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.selector.matchLabels).toEqual({ 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/component': 'db-pooler' });
    expect(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    for (const sts of ofKind(m, 'StatefulSet')) expect(selects(d.spec.selector.matchLabels, sts.spec.template.metadata.labels)).toBe(false);
    expect(d.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('pgbouncer');
    expect(pod.topologySpreadConstraints).toEqual([{
      topologyKey: 'kubernetes.io/hostname', maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: d.spec.selector.matchLabels },
    }]);
  });

  test('the pod template carries a hash of pgbouncer.ini (a changed config rolls the pods)', () => {
    const hash = find(m, 'Deployment', 'db-pooler').spec.template.metadata.annotations['postgres.cdk8s.io/config-hash'];
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    const other = find(synthCluster({ pooler: { defaultPoolSize: 30 } }, { namespace: 'shop' }), 'Deployment', 'db-pooler');
    expect(other.spec.template.metadata.annotations['postgres.cdk8s.io/config-hash']).not.toBe(hash);
  });

  test('restricted security, no ServiceAccount token, read-only root filesystem', () => {
    expect(restrictedViolations(find(m, 'Deployment', 'db-pooler'), pod)).toEqual([]);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(ctr.securityContext).toEqual(RESTRICTED_CONTAINER);
  });

  test('the pinned default image runs pgbouncer with the mounted ini, under the reload wrapper watching the userlist, its certificate and CA', () => {
    expect(ctr.image).toBe('docker.io/percona/percona-pgbouncer:1.25.1-1');
    expect(ctr.command).toEqual([
      '/bin/bash', '/opt/cdk8s-postgres/reload-on-change.sh', '/etc/pgbouncer-auth', '/etc/pgbouncer-tls', '/etc/pgbouncer-ca', '--',
      '/usr/bin/pgbouncer', '/etc/pgbouncer/pgbouncer.ini',
    ]);
    // The wrapper is the one file of the scripts ConfigMap the pooler gets, and its text is in the template hash.
    expect(pod.volumes).toContainEqual({ name: 'scripts', configMap: { name: 'db-scripts', items: [{ key: 'reload-on-change.sh', path: 'reload-on-change.sh' }], defaultMode: 0o555 } });
    expect(ctr.volumeMounts).toContainEqual({ name: 'scripts', mountPath: '/opt/cdk8s-postgres', readOnly: true });
    expect(find(m, 'ConfigMap', 'db-scripts').data['reload-on-change.sh']).toBe(RELOAD_ON_CHANGE_SCRIPT);
  });

  test('resources: requests equal limits (200m, 128Mi)', () => {
    expect(ctr.resources).toEqual({ requests: { cpu: '200m', memory: '128Mi' }, limits: { cpu: '200m', memory: '128Mi' } });
  });

  test('TCP probes on the named postgres port', () => {
    expect(ctr.ports).toEqual([{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }]);
    expect(ctr.readinessProbe).toEqual({ tcpSocket: { port: 'postgres' }, periodSeconds: 5, failureThreshold: 3 });
    expect(ctr.livenessProbe).toEqual({ tcpSocket: { port: 'postgres' }, periodSeconds: 10, failureThreshold: 6 });
  });

  test('volumes: the ini, only userlist.txt of the auth Secret, the pooler\'s TLS Secret, and its ca.crt (the issuer\'s CA; never the CA\'s own Secret)', () => {
    expect(pod.volumes).toEqual([
      { name: 'config', configMap: { name: 'db-pooler', defaultMode: 0o444 } },
      { name: 'auth', secret: { secretName: 'db-pgbouncer', items: [{ key: 'userlist.txt', path: 'userlist.txt' }], defaultMode: 0o440 } },
      { name: 'scripts', configMap: { name: 'db-scripts', items: [{ key: 'reload-on-change.sh', path: 'reload-on-change.sh' }], defaultMode: 0o555 } },
      { name: 'tls', secret: { secretName: 'db-pooler-tls', defaultMode: 0o440 } },
      { name: 'ca', secret: { secretName: 'db-pooler-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } },
    ]);
    expect(ctr.volumeMounts).toEqual([
      { name: 'config', mountPath: '/etc/pgbouncer', readOnly: true },
      { name: 'auth', mountPath: '/etc/pgbouncer-auth', readOnly: true },
      { name: 'scripts', mountPath: '/opt/cdk8s-postgres', readOnly: true },
      { name: 'tls', mountPath: '/etc/pgbouncer-tls', readOnly: true },
      { name: 'ca', mountPath: '/etc/pgbouncer-ca', readOnly: true },
    ]);
    // Every file pgbouncer.ini names is where a volume puts it.
    for (const key of ['auth_file', 'client_tls_cert_file', 'client_tls_key_file', 'server_tls_ca_file']) {
      const file = ini[key];
      expect([key, ctr.volumeMounts.some((vm: any) => file.startsWith(`${vm.mountPath}/`))]).toEqual([key, true]);
    }
  });

  test('Service: ClusterIP on the PostgreSQL port, selecting exactly the pooler pods', () => {
    const svc = find(m, 'Service', 'db-pooler');
    expect(svc.spec).toEqual({
      type: 'ClusterIP',
      selector: { 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/component': 'db-pooler' },
      ports: [{ name: 'postgres', port: 5432, targetPort: 'postgres', protocol: 'TCP' }],
    });
    const selected = podTemplates(m).filter((t) => selects(svc.spec.selector, t.metadata.labels)).map((t) => `${t.owner.kind}/${t.owner.metadata.name}`);
    expect(selected).toEqual(['Deployment/db-pooler']);
  });

  test('Certificate: the Service\'s names in the namespace, server auth only, from the cluster CA issuer', () => {
    const cert = find(m, 'Certificate', 'db-pooler');
    expect(cert.spec).toMatchObject({
      secretName: 'db-pooler-tls',
      commonName: 'db-pooler',
      dnsNames: ['db-pooler', 'db-pooler.shop', 'db-pooler.shop.svc', 'db-pooler.shop.svc.cluster.local'],
      usages: ['server auth', 'digital signature', 'key encipherment'],
      issuerRef: { name: 'db-ca', kind: 'Issuer', group: 'cert-manager.io' },
      privateKey: { algorithm: 'ECDSA', rotationPolicy: 'Always' },
    });
  });

  test('the pgbouncer Secret is created by the credentials Job with a userlist.txt', () => {
    const job = ofKind(m, 'Job').find((j) => j.metadata.name.startsWith('db-credentials-'))!;
    const env = job.spec.template.spec.containers[0].env;
    expect(env.find((e: any) => e.name === 'SECRETS').value).toContain('db-pgbouncer=cdk8s_pgbouncer');
    expect(env.find((e: any) => e.name === 'SECRET_USERLISTS').value).toBe('db-pgbouncer');
  });
});

describe('Certificate without a namespace, and with a ClusterIssuer', () => {
  test('only the short name without a namespace', () => {
    expect(find(synthCluster({ pooler: {} }), 'Certificate', 'db-pooler').spec.dnsNames).toEqual(['db-pooler']);
  });

  test('an existing ClusterIssuer issues the pooler\'s certificate too', () => {
    const m = synthCluster({
      pooler: {},
      tls: Tls.certManager({ issuerName: 'internal-ca', issuerKind: IssuerKind.CLUSTER_ISSUER, duration: Duration.days(30), renewBefore: Duration.days(10) }),
    });
    expect(find(m, 'Certificate', 'db-pooler').spec.issuerRef).toEqual({ name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
  });
});

describe('options', () => {
  const m = synthCluster({
    clusterName: 'orders',
    config: { database: { port: 6543 }, connection: { maxConnections: 200 } },
    pooler: {
      instances: 3,
      poolMode: PoolMode.SESSION,
      defaultPoolSize: 60,
      maxClientConnections: 5000,
      image: 'docker.io/bitnami/pgbouncer:1.24.1',
      resources: Resources.of({ cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(256) }),
    },
  });

  test('instances, pool mode, sizes, port and cluster name', () => {
    expect(find(m, 'Deployment', 'orders-pooler').spec.replicas).toBe(3);
    const ini = iniOf(m, 'orders-pooler');
    expect(ini).toMatchObject({ 'pool_mode': 'session', 'default_pool_size': '60', 'max_client_conn': '5000', 'listen_port': '6543', '*': 'host=orders-primary port=6543' });
    expect(find(m, 'Service', 'orders-pooler').spec.ports[0].port).toBe(6543);
  });

  test('image and resources (requests equal limits)', () => {
    const ctr = podOf(m, 'orders-pooler').containers[0];
    expect(ctr.image).toBe('docker.io/bitnami/pgbouncer:1.24.1');
    expect(ctr.resources).toEqual({ requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
  });
});

describe('readOnly', () => {
  const m = synthCluster({ pooler: { readOnly: true, instances: 2, defaultPoolSize: 10 } }, { namespace: 'shop' });

  test('a second pooler <cluster>-pooler-ro in front of <cluster>-replicas', () => {
    for (const kind of ['ConfigMap', 'Deployment', 'Service', 'Certificate']) find(m, kind, 'db-pooler-ro');
    expect(iniOf(m, 'db-pooler-ro')['*']).toBe('host=db-replicas port=5432');
    expect(iniOf(m, 'db-pooler')['*']).toBe('host=db-primary port=5432');
  });

  test('the two pools differ only in the server host', () => {
    const rw = find(m, 'ConfigMap', 'db-pooler').data['pgbouncer.ini'];
    const ro = find(m, 'ConfigMap', 'db-pooler-ro').data['pgbouncer.ini'];
    expect(ro.replace('db-replicas', 'db-primary').replace(/pooler-ro/g, 'pooler')).toBe(rw);
  });

  test('each Service selects only its own Deployment\'s pods', () => {
    for (const name of ['db-pooler', 'db-pooler-ro']) {
      const svc = find(m, 'Service', name);
      const selected = podTemplates(m).filter((t) => selects(svc.spec.selector, t.metadata.labels)).map((t) => t.owner.metadata.name);
      expect(selected).toEqual([name]);
    }
  });

  test('its own certificate and TLS Secret', () => {
    expect(find(m, 'Certificate', 'db-pooler-ro').spec).toMatchObject({
      secretName: 'db-pooler-ro-tls',
      commonName: 'db-pooler-ro',
      dnsNames: ['db-pooler-ro', 'db-pooler-ro.shop', 'db-pooler-ro.shop.svc', 'db-pooler-ro.shop.svc.cluster.local'],
    });
    expect(podOf(m, 'db-pooler-ro').volumes.find((v: any) => v.name === 'tls').secret.secretName).toBe('db-pooler-ro-tls');
  });

  test('the same auth Secret and one pgbouncer Secret for both', () => {
    expect(podOf(m, 'db-pooler-ro').volumes.find((v: any) => v.name === 'auth').secret.secretName).toBe('db-pgbouncer');
    const job = ofKind(m, 'Job').find((j) => j.metadata.name.startsWith('db-credentials-'))!;
    const secrets = job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'SECRETS').value.split(' ');
    expect(secrets.filter((s: string) => s.startsWith('db-pgbouncer='))).toHaveLength(1);
  });
});

describe('TLS disabled', () => {
  const m = synthCluster({ tls: Tls.disabled(), pooler: { readOnly: true } });

  test('no TLS lines, no Certificate, no TLS or CA volume', () => {
    for (const name of ['db-pooler', 'db-pooler-ro']) {
      expect(find(m, 'ConfigMap', name).data['pgbouncer.ini']).not.toMatch(/tls/);
      expect(podOf(m, name).volumes.map((v: any) => v.name)).toEqual(['config', 'auth', 'scripts']);
      expect(podOf(m, name).containers[0].volumeMounts.map((v: any) => v.name)).toEqual(['config', 'auth', 'scripts']);
      // Without TLS the wrapper still reloads a rotated userlist.
      expect(podOf(m, name).containers[0].command.slice(0, 4)).toEqual(['/bin/bash', '/opt/cdk8s-postgres/reload-on-change.sh', '/etc/pgbouncer-auth', '--']);
    }
    expect(ofKind(m, 'Certificate')).toEqual([]);
  });

  test('auth is still SCRAM through auth_query', () => {
    expect(iniOf(m)).toMatchObject({ auth_type: 'scram-sha-256', auth_user: 'cdk8s_pgbouncer' });
  });
});

describe('TLS from user Secrets', () => {
  test('the pooler serves the server key pair and verifies the server against it', () => {
    const m = synthWith((chart) => {
      new PostgresCluster(chart, 'db', {
        pooler: {},
        tls: Tls.fromSecrets({
          server: kplus.Secret.fromSecretName(chart, 'server', 'my-server-tls'),
          replicationClient: kplus.Secret.fromSecretName(chart, 'repl', 'my-replication-tls'),
        }),
      });
    });
    expect(ofKind(m, 'Certificate')).toEqual([]);
    const volumes = podOf(m).volumes;
    expect(volumes.find((v: any) => v.name === 'tls').secret.secretName).toBe('my-server-tls');
    expect(volumes.find((v: any) => v.name === 'ca').secret.secretName).toBe('my-server-tls');
    expect(iniOf(m).client_tls_sslmode).toBe('require');
  });
});

describe('the pooler\'s NetworkPolicy', () => {
  const POOLERS = { podSelector: { matchLabels: { 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/name': 'pgbouncer' } } };
  const MEMBERS = { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgresql', 'postgres.cdk8s.io/cluster': 'db' } } };
  const DNS = [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }];

  test('clients in on the PostgreSQL port; out only to DNS and the members\' PostgreSQL port', () => {
    const m = synthCluster({ pooler: { readOnly: true } });
    expect(find(m, 'NetworkPolicy', 'db-pooler').spec).toEqual({
      podSelector: POOLERS.podSelector,
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }], ports: tcp(5432) }],
      egress: [{ ports: DNS }, { to: [MEMBERS], ports: tcp(5432) }],
    });
  });

  test('it selects both poolers\' pods and nothing else; the default deny covers them too', () => {
    const m = synthCluster({ pooler: { readOnly: true } });
    const policy = find(m, 'NetworkPolicy', 'db-pooler');
    const selected = podTemplates(m).filter((t) => selects(policy.spec.podSelector.matchLabels, t.metadata.labels)).map((t) => t.owner.metadata.name);
    expect(selected.sort()).toEqual(['db-pooler', 'db-pooler-ro']);
    const deny = find(m, 'NetworkPolicy', 'db-default-deny');
    for (const name of selected) expect(selects(deny.spec.podSelector.matchLabels, find(m, 'Deployment', name).spec.template.metadata.labels)).toBe(true);
  });

  test('the members accept the pooler on the PostgreSQL port, next to the Jobs', () => {
    const m = synthCluster({ pooler: {} });
    const rule = find(m, 'NetworkPolicy', 'db-members').spec.ingress[1];
    expect(rule.from).toContainEqual(POOLERS);
    expect(rule.ports).toEqual(tcp(5432));
    expect(find(synthCluster(), 'NetworkPolicy', 'db-members').spec.ingress[1].from).not.toContainEqual(POOLERS);
  });

  test('the client peers of network.allowFrom apply to the pooler', () => {
    const m = synthCluster({ pooler: {}, network: { allowFrom: [NetworkPeer.pods({ app: 'api' })], apiServerCidrs: ['10.96.0.1/32'] } });
    expect(find(m, 'NetworkPolicy', 'db-pooler').spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: tcp(5432) }]);
  });

  test('no pooler policy without a pooler or with policies off', () => {
    expect(ofKind(synthCluster(), 'NetworkPolicy').map((p) => p.metadata.name)).not.toContain('db-pooler');
    expect(ofKind(synthCluster({ pooler: {}, network: { policies: false } }), 'NetworkPolicy')).toEqual([]);
  });
});

describe('poolerHost', () => {
  test.each<[PostgresClusterProps, string | undefined, string | undefined]>([
    [{}, undefined, undefined],
    [{ pooler: {} }, undefined, 'db-pooler'],
    [{ pooler: {} }, 'shop', 'db-pooler.shop.svc'],
  ])('%j in namespace %p: %p', (props, namespace, expected) => {
    let cluster!: PostgresCluster;
    synthWith((chart) => {
      cluster = new PostgresCluster(chart, 'db', props);
    }, namespace ? { namespace } : undefined);
    expect(cluster.poolerHost).toBe(expected);
  });
});
