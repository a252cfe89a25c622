/**
 * TLS ("security by default"): the cert-manager objects, and what TLS changes in every member
 * (pg_hba, PostgreSQL's ssl parameters, Patroni's REST API, ctl and authentication, probes,
 * volumes, the REST API connect address), in each mode: cert-manager with its own CA (the
 * default), cert-manager with an existing issuer, the user's Secrets, and disabled.
 */
import { Duration, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse } from 'yaml';
import {
  BackupRepository, ClientAuthMethod, HbaConnectionType, IssuerKind, PostgresCluster, PostgresClusterProps, Tls, TlsVersion,
} from '../src';
import { Manifest, buildCluster, find, ofKind, podTemplates, synthCluster, synthWith } from './helpers/manifests';

const SERVER_DIR = '/etc/postgres-tls/server';
const REPLICATION_DIR = '/etc/postgres-tls/replication';

const members = (m: Manifest[]) => ofKind(m, 'StatefulSet');
const patroni = (m: Manifest[], sts: Manifest): any => parse(find(m, 'ConfigMap', `${sts.metadata.name}-config`).data['patroni.yaml']);
const postgresContainer = (sts: Manifest): any => sts.spec.template.spec.containers.find((c: any) => c.name === 'postgres');
const certManagerObjects = (m: Manifest[]) => m.filter((x) => x.apiVersion.startsWith('cert-manager.io/'));
const certificate = (m: Manifest[], name: string) => find(m, 'Certificate', name);
const envValue = (ctr: any, name: string) => ctr.env.find((e: any) => e.name === name)?.value;
const tlsVolumes = (sts: Manifest) => sts.spec.template.spec.volumes.filter((v: any) => v.name.startsWith('tls-'));

/** Everything the cluster builds, with delayed replicas so that every member set is checked. */
const WITH_DELAYED: PostgresClusterProps = { delayedReplicas: { applyDelay: Duration.hours(1) } };

/** The user's Secrets, for Tls.fromSecrets. */
function fromSecretsCluster(chartNamespace?: string): { manifests: Manifest[]; cluster: PostgresCluster } {
  let cluster: PostgresCluster | undefined;
  const manifests = synthWith((chart) => {
    cluster = new PostgresCluster(chart, 'db', {
      ...WITH_DELAYED,
      tls: Tls.fromSecrets({
        server: kplus.Secret.fromSecretName(chart, 'server', 'my-server-tls'),
        replicationClient: kplus.Secret.fromSecretName(chart, 'replication', 'my-replication-tls'),
      }),
    });
  }, chartNamespace ? { namespace: chartNamespace } : undefined);
  return { manifests, cluster: cluster! };
}

/** Assertions every TLS mode shares: what the members do with the Secrets they are given. */
function expectTlsMembers(m: Manifest[], serverSecret: string, replicationSecret: string): void {
  expect(members(m).length).toBeGreaterThanOrEqual(3);
  for (const sts of members(m)) {
    const cfg = patroni(m, sts);
    const pg = postgresContainer(sts);
    const where = sts.metadata.name;

    // pg_hba: TLS for every network rule, client certificates for replication, plain TCP refused.
    const hba: string[] = cfg.postgresql.pg_hba;
    expect([where, hba]).toEqual([where, [
      'local all postgres peer',
      'local all all scram-sha-256',
      'hostssl replication replicator 0.0.0.0/0 cert',
      'hostssl replication replicator ::/0 cert',
      'hostssl postgres cdk8s_rewind 0.0.0.0/0 scram-sha-256',
      'hostssl postgres cdk8s_rewind ::/0 scram-sha-256',
      'hostssl all cdk8s_rewind 0.0.0.0/0 reject',
      'hostssl all cdk8s_rewind ::/0 reject',
      'hostssl all postgres 0.0.0.0/0 reject',
      'hostssl all postgres ::/0 reject',
      'hostssl all all 0.0.0.0/0 scram-sha-256',
      'hostssl all all ::/0 scram-sha-256',
      'hostnossl all all 0.0.0.0/0 reject',
      'hostnossl all all ::/0 reject',
    ]]);
    expect(hba.filter((l) => l.startsWith('host '))).toEqual([]);

    // PostgreSQL serves TLS 1.3 with the server certificate.
    expect(cfg.postgresql.parameters).toMatchObject({
      ssl: 'on',
      ssl_cert_file: `${SERVER_DIR}/tls.crt`,
      ssl_key_file: `${SERVER_DIR}/tls.key`,
      ssl_ca_file: `${SERVER_DIR}/ca.crt`,
      ssl_min_protocol_version: 'TLSv1.3',
    });
    // Not cluster-wide: Patroni would not let members differ, and the files are per pod.
    expect(cfg.bootstrap.dcs.postgresql.parameters.ssl).toBeUndefined();

    // Patroni: HTTPS REST API asking for (not requiring) client certificates, patronictl with the
    // server certificate, connections to other members verifying the CA.
    expect(cfg.restapi).toEqual({
      listen: '*:8008',
      certfile: `${SERVER_DIR}/tls.crt`,
      keyfile: `${SERVER_DIR}/tls.key`,
      cafile: `${SERVER_DIR}/ca.crt`,
      verify_client: 'optional',
    });
    expect(cfg.ctl).toEqual({ certfile: `${SERVER_DIR}/tls.crt`, keyfile: `${SERVER_DIR}/tls.key`, cacert: `${SERVER_DIR}/ca.crt` });
    expect(cfg.postgresql.authentication).toEqual({
      superuser: { username: 'postgres', sslmode: 'verify-ca', sslrootcert: `${SERVER_DIR}/ca.crt` },
      replication: {
        username: 'replicator',
        sslmode: 'verify-ca',
        sslrootcert: `${SERVER_DIR}/ca.crt`,
        sslcert: `${REPLICATION_DIR}/tls.crt`,
        sslkey: `${REPLICATION_DIR}/tls.key`,
      },
      rewind: { username: 'cdk8s_rewind', sslmode: 'verify-ca', sslrootcert: `${SERVER_DIR}/ca.crt` },
    });

    // Probes over HTTPS (verify_client optional lets the kubelet in without a certificate).
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      expect([where, probe, pg[probe].httpGet.scheme]).toEqual([where, probe, 'HTTPS']);
    }

    // The Secrets as read-only volumes, key readable by the pod's group only.
    expect(tlsVolumes(sts)).toEqual([
      { name: 'tls-server', secret: { secretName: serverSecret, defaultMode: 0o640 } },
      { name: 'tls-replication', secret: { secretName: replicationSecret, defaultMode: 0o640 } },
    ]);
    expect(pg.volumeMounts).toEqual(expect.arrayContaining([
      { name: 'tls-server', mountPath: SERVER_DIR, readOnly: true },
      { name: 'tls-replication', mountPath: REPLICATION_DIR, readOnly: true },
    ]));
    // Only PostgreSQL and Patroni read the keys: no other container mounts them.
    const others = [...(sts.spec.template.spec.initContainers ?? []), ...sts.spec.template.spec.containers.filter((c: any) => c !== pg)];
    for (const c of others) expect([c.name, (c.volumeMounts ?? []).filter((v: any) => v.name.startsWith('tls-'))]).toEqual([c.name, []]);
    // fsGroup makes the 0640 files readable by the postgres user.
    expect(sts.spec.template.spec.securityContext.fsGroup).toEqual(expect.any(Number));

    // Every TLS file the configuration names is in a mounted Secret, under a key the Secret has.
    const files = [
      cfg.restapi.certfile, cfg.restapi.keyfile, cfg.restapi.cafile, cfg.ctl.certfile, cfg.ctl.keyfile, cfg.ctl.cacert,
      cfg.postgresql.parameters.ssl_cert_file, cfg.postgresql.parameters.ssl_key_file, cfg.postgresql.parameters.ssl_ca_file,
      ...['superuser', 'replication'].flatMap((u) => ['sslrootcert', 'sslcert', 'sslkey'].map((k) => cfg.postgresql.authentication[u][k])),
    ].filter((f) => f !== undefined);
    for (const file of files) {
      const dir = file.slice(0, file.lastIndexOf('/'));
      const mount = pg.volumeMounts.find((v: any) => v.mountPath === dir);
      expect([file, mount?.name]).toEqual([file, expect.stringMatching(/^tls-/)]);
      expect(['tls.crt', 'tls.key', 'ca.crt']).toContain(file.slice(dir.length + 1));
    }

    // Members call each other's REST API by the DNS name the certificate covers (*.<n>-pods).
    expect(envValue(pg, 'PATRONI_RESTAPI_CONNECT_ADDRESS')).toBe('$(PATRONI_NAME).db-pods:8008');
    const names = pg.env.map((e: any) => e.name);
    expect(names.indexOf('PATRONI_NAME')).toBeLessThan(names.indexOf('PATRONI_RESTAPI_CONNECT_ADDRESS'));
    expect(sts.spec.serviceName).toBe('db-pods');
  }
}

describe('default: cert-manager with a per-cluster CA', () => {
  const m = synthCluster(WITH_DELAYED);

  test('props.tls undefined is Tls.certManager()', () => {
    expect(synthCluster({ ...WITH_DELAYED, tls: Tls.certManager() })).toEqual(m);
  });

  test('emits the CA chain: self-signed Issuer -> CA Certificate -> CA Issuer', () => {
    expect(certManagerObjects(m).map((x) => `${x.kind}/${x.metadata.name}`).sort()).toEqual([
      'Certificate/db-ca', 'Certificate/db-replication', 'Certificate/db-server', 'Issuer/db-ca', 'Issuer/db-selfsigned',
    ]);
    expect(find(m, 'Issuer', 'db-selfsigned').spec).toEqual({ selfSigned: {} });
    const ca = certificate(m, 'db-ca').spec;
    expect(ca).toMatchObject({
      isCA: true,
      commonName: 'db-ca',
      secretName: 'db-ca',
      duration: '87600h',
      renewBefore: '720h',
      issuerRef: { name: 'db-selfsigned', kind: 'Issuer', group: 'cert-manager.io' },
    });
    expect(find(m, 'Issuer', 'db-ca').spec).toEqual({ ca: { secretName: 'db-ca' } });
    for (const x of certManagerObjects(m)) expect(x.metadata.labels?.['postgres.cdk8s.io/cluster']).toBe('db');
  });

  test('server certificate: Services, every member by the headless Service, localhost; server and client auth', () => {
    const spec = certificate(m, 'db-server').spec;
    expect(spec.secretName).toBe('db-server-tls');
    expect(spec.commonName).toBe('db-primary');
    expect(spec.dnsNames).toEqual(['db-primary', 'db-replicas', '*.db-pods', 'localhost']);
    expect(spec.usages).toEqual(expect.arrayContaining(['server auth', 'client auth']));
    expect(spec.issuerRef).toEqual({ name: 'db-ca', kind: 'Issuer', group: 'cert-manager.io' });
  });

  test('the CA keeps its key when renewed (rotationPolicy Never): the old and the new CA certificate verify the same leaves', () => {
    const ca = certificate(m, 'db-ca').spec;
    expect(ca.isCA).toBe(true);
    expect(ca.privateKey).toEqual({ algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Never' });
    // Renewed 30 days before a 10-year lifetime ends: old and new CA certificates overlap for 30 days,
    // and the daily publisher puts the new one in the clients' ConfigMap within a day.
    expect([ca.duration, ca.renewBefore]).toEqual(['87600h', '720h']);
    expect(find(m, 'CronJob', 'db-publish-ca').spec.schedule).toBe('17 3 * * *');
  });

  test('replication client certificate: CN replicator, client auth only', () => {
    const spec = certificate(m, 'db-replication').spec;
    expect(spec.secretName).toBe('db-replication-tls');
    expect(spec.commonName).toBe('replicator');
    expect(spec.usages).toContain('client auth');
    expect(spec.usages).not.toContain('server auth');
    expect(spec.dnsNames).toBeUndefined();
    expect(spec.issuerRef).toEqual({ name: 'db-ca', kind: 'Issuer', group: 'cert-manager.io' });
  });

  test('ECDSA P-256 keys; leaf keys rotated on renewal; 90-day certificates renewed 15 days ahead', () => {
    for (const name of ['db-server', 'db-replication']) {
      expect(certificate(m, name).spec.privateKey).toEqual({ algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' });
    }
    for (const name of ['db-server', 'db-replication']) {
      expect(certificate(m, name).spec).toMatchObject({ duration: '2160h', renewBefore: '360h' });
    }
  });

  test('every member uses the certificates', () => {
    expectTlsMembers(m, 'db-server-tls', 'db-replication-tls');
  });

  test('the pods mount the Secrets the Certificates write', () => {
    const written = ofKind(m, 'Certificate').map((c) => c.spec.secretName);
    for (const sts of members(m)) for (const v of tlsVolumes(sts)) expect(written).toContain(v.secret.secretName);
  });

  test('outputs: tls and caConfigMapName (the CA certificate alone)', () => {
    const { cluster } = buildCluster();
    expect(cluster.tls.source).toBe('cert-manager');
    expect(cluster.tls.enabled).toBe(true);
    expect(cluster.caConfigMapName).toBe('db-ca-cert');
  });
});

describe('server certificate names without a chart namespace (tls.namespace, tls.extraDnsNames)', () => {
  const namesOf = (m: Manifest[], cert: string) => certificate(m, cert).spec.dnsNames;

  test('tls.namespace adds the namespaced names of every Service, the pods, the pooler and the backup node', () => {
    const m = synthCluster({
      tls: Tls.certManager({ namespace: 'orders' }),
      pooler: {},
      backup: { repositories: [BackupRepository.volume()] },
    });
    expect(namesOf(m, 'db-server')).toEqual([
      'db-primary', 'db-primary.orders', 'db-primary.orders.svc', 'db-primary.orders.svc.cluster.local',
      'db-replicas', 'db-replicas.orders', 'db-replicas.orders.svc', 'db-replicas.orders.svc.cluster.local',
      '*.db-pods', '*.db-pods.orders', '*.db-pods.orders.svc', '*.db-pods.orders.svc.cluster.local',
      'localhost',
    ]);
    expect(namesOf(m, 'db-pooler')).toEqual(['db-pooler', 'db-pooler.orders', 'db-pooler.orders.svc', 'db-pooler.orders.svc.cluster.local']);
    expect(namesOf(m, 'db-repo-host')).toContain('*.db-repo-host.orders.svc');
    // Same names as a chart in that namespace gives.
    expect(namesOf(m, 'db-server')).toEqual(namesOf(synthCluster({}, { namespace: 'orders' }), 'db-server'));
  });

  test('without either, only the short names: a client verifying by <service>.<namespace>.svc would fail', () => {
    expect(namesOf(synthCluster(), 'db-server')).toEqual(['db-primary', 'db-replicas', '*.db-pods', 'localhost']);
  });

  test('extraDnsNames go on the server and pooler certificates, once each', () => {
    const m = synthCluster({ tls: Tls.certManager({ extraDnsNames: ['pg.example.com', '*.db.example.com', 'db-primary'] }), pooler: {} });
    expect(namesOf(m, 'db-server')).toEqual(['db-primary', 'db-replicas', '*.db-pods', 'localhost', 'pg.example.com', '*.db.example.com']);
    expect(namesOf(m, 'db-pooler')).toEqual(['db-pooler', 'pg.example.com', '*.db.example.com', 'db-primary']);
  });

  test('a tls.namespace other than the chart\'s, or a bad name, is refused', () => {
    expect(() => buildCluster({ tls: Tls.certManager({ namespace: 'other' }) }, { namespace: 'orders' }))
      .toThrow('test/db: invalid tls.namespace = "other": must equal the chart\'s namespace (orders), or be left unset');
    expect(buildCluster({ tls: Tls.certManager({ namespace: 'orders' }) }, { namespace: 'orders' }).cluster.caConfigMapName).toBe('db-ca-cert');
    expect(() => buildCluster({ tls: Tls.certManager({ namespace: 'Orders' }) })).toThrow(/invalid tls.namespace = "Orders": must be at most 63 characters/);
    expect(() => buildCluster({ tls: Tls.certManager({ extraDnsNames: ['pg.*.example.com'] }) }))
      .toThrow('test/db: invalid tls.extraDnsNames[0] = "pg.*.example.com": must be a lower-case DNS name, with a wildcard only as the whole first label (*.example.com)');
    expect(() => buildCluster({ tls: Tls.certManager({ extraDnsNames: ['https://pg.example.com'] }) })).toThrow(/tls.extraDnsNames\[0\]/);
  });
});

describe('cert-manager in a chart with a namespace', () => {
  const m = synthCluster({}, { namespace: 'team-a' });

  test('the server certificate adds the namespaced DNS names', () => {
    expect(certificate(m, 'db-server').spec.dnsNames).toEqual([
      'db-primary', 'db-primary.team-a', 'db-primary.team-a.svc', 'db-primary.team-a.svc.cluster.local',
      'db-replicas', 'db-replicas.team-a', 'db-replicas.team-a.svc', 'db-replicas.team-a.svc.cluster.local',
      '*.db-pods', '*.db-pods.team-a', '*.db-pods.team-a.svc', '*.db-pods.team-a.svc.cluster.local',
      'localhost',
    ]);
  });

  test('the hosts clients connect to are covered (verify-full works)', () => {
    const { cluster } = buildCluster({}, { namespace: 'team-a' });
    const dnsNames = certificate(m, 'db-server').spec.dnsNames;
    expect(dnsNames).toContain(cluster.primaryHost);
    expect(dnsNames).toContain(cluster.replicasHost);
  });

  test('cert-manager objects are in the namespace', () => {
    for (const x of certManagerObjects(m)) expect(x.metadata.namespace).toBe('team-a');
  });

  test('a custom cluster name is followed everywhere', () => {
    const custom = synthCluster({ clusterName: 'orders' }, { namespace: 'shop' });
    expect(certManagerObjects(custom).map((x) => `${x.kind}/${x.metadata.name}`).sort()).toEqual([
      'Certificate/orders-ca', 'Certificate/orders-replication', 'Certificate/orders-server', 'Issuer/orders-ca', 'Issuer/orders-selfsigned',
    ]);
    expect(certificate(custom, 'orders-server').spec.dnsNames).toEqual(expect.arrayContaining([
      'orders-primary.shop.svc', 'orders-replicas.shop.svc', '*.orders-pods', '*.orders-pods.shop.svc',
    ]));
    for (const sts of members(custom)) {
      expect(envValue(postgresContainer(sts), 'PATRONI_RESTAPI_CONNECT_ADDRESS')).toBe('$(PATRONI_NAME).orders-pods:8008');
      expect(tlsVolumes(sts).map((v: any) => v.secret.secretName)).toEqual(['orders-server-tls', 'orders-replication-tls']);
    }
  });
});

describe('cert-manager with custom lifetimes', () => {
  test('duration and renewBefore in whole hours', () => {
    const m = synthCluster({ tls: Tls.certManager({ duration: Duration.days(30), renewBefore: Duration.hours(36) }) });
    for (const name of ['db-server', 'db-replication']) {
      expect(certificate(m, name).spec).toMatchObject({ duration: '720h', renewBefore: '36h' });
    }
    // the CA keeps its own lifetime
    expect(certificate(m, 'db-ca').spec).toMatchObject({ duration: '87600h', renewBefore: '720h' });
  });
});

describe('cert-manager with an existing issuer', () => {
  test.each([
    ['an Issuer (the default kind)', Tls.certManager({ issuerName: 'team-ca' }), 'Issuer'],
    ['an Issuer, explicitly', Tls.certManager({ issuerName: 'team-ca', issuerKind: IssuerKind.ISSUER }), 'Issuer'],
    ['a ClusterIssuer', Tls.certManager({ issuerName: 'corp.internal-ca', issuerKind: IssuerKind.CLUSTER_ISSUER }), 'ClusterIssuer'],
  ])('%s: no CA objects, the Certificates point to it', (_name, tls, kind) => {
    const m = synthCluster({ ...WITH_DELAYED, tls });
    expect(ofKind(m, 'Issuer')).toEqual([]);
    expect(ofKind(m, 'ClusterIssuer')).toEqual([]);
    expect(ofKind(m, 'Certificate').map((c) => c.metadata.name).sort()).toEqual(['db-replication', 'db-server']);
    const name = tls._certManager.issuerName;
    for (const c of ofKind(m, 'Certificate')) expect(c.spec.issuerRef).toEqual({ name, kind, group: 'cert-manager.io' });
    expectTlsMembers(m, 'db-server-tls', 'db-replication-tls');
  });

  test('the CA certificate is published from the server Secret (cert-manager writes the issuer\'s CA into its ca.crt)', () => {
    const { cluster } = buildCluster({ tls: Tls.certManager({ issuerName: 'team-ca', issuerKind: IssuerKind.CLUSTER_ISSUER }) });
    expect(cluster.caConfigMapName).toBe('db-ca-cert');
  });
});

describe('Tls.fromSecrets', () => {
  const { manifests: m, cluster } = fromSecretsCluster('team-b');

  test('no cert-manager objects', () => {
    expect(certManagerObjects(m)).toEqual([]);
  });

  test('the members mount the user\'s Secrets', () => {
    expectTlsMembers(m, 'my-server-tls', 'my-replication-tls');
  });

  test('outputs: source secrets, the CA certificate published in its own ConfigMap', () => {
    expect(cluster.tls.source).toBe('secrets');
    expect(cluster.tls.enabled).toBe(true);
    expect(cluster.caConfigMapName).toBe('db-ca-cert');
  });

  test('the credentials Job does not create the TLS Secrets', () => {
    const job = ofKind(m, 'Job')[0];
    expect(job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'SECRETS').value).not.toMatch(/tls/);
  });
});

describe('Tls.disabled()', () => {
  const m = synthCluster({ ...WITH_DELAYED, tls: Tls.disabled() });

  test('no cert-manager objects', () => {
    expect(certManagerObjects(m)).toEqual([]);
  });

  test('pg_hba: host rules, replication by password, no hostssl or hostnossl', () => {
    for (const sts of members(m)) {
      expect(patroni(m, sts).postgresql.pg_hba).toEqual([
        'local all postgres peer',
        'local all all scram-sha-256',
        'host replication replicator 0.0.0.0/0 scram-sha-256',
        'host replication replicator ::/0 scram-sha-256',
        'host postgres cdk8s_rewind 0.0.0.0/0 scram-sha-256',
        'host postgres cdk8s_rewind ::/0 scram-sha-256',
        'host all cdk8s_rewind 0.0.0.0/0 reject',
        'host all cdk8s_rewind ::/0 reject',
        'host all postgres 0.0.0.0/0 reject',
        'host all postgres ::/0 reject',
        'host all all 0.0.0.0/0 scram-sha-256',
        'host all all ::/0 scram-sha-256',
      ]);
    }
  });

  test('no ssl parameters', () => {
    for (const sts of members(m)) {
      const params = patroni(m, sts).postgresql.parameters;
      expect(Object.keys(params).filter((k) => k.startsWith('ssl'))).toEqual([]);
    }
  });

  test('Patroni: plain REST API, no ctl section, no TLS in authentication', () => {
    for (const sts of members(m)) {
      const cfg = patroni(m, sts);
      expect(cfg.restapi).toEqual({ listen: '*:8008' });
      expect(cfg.ctl).toBeUndefined();
      expect(cfg.postgresql.authentication).toEqual({
        superuser: { username: 'postgres' }, replication: { username: 'replicator' }, rewind: { username: 'cdk8s_rewind' },
      });
    }
  });

  test('HTTP probes, no TLS volumes or mounts, REST API reached by the pod\'s DNS name', () => {
    for (const sts of members(m)) {
      const pg = postgresContainer(sts);
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect(pg[probe].httpGet.scheme).toBe('HTTP');
      expect(tlsVolumes(sts)).toEqual([]);
      expect(pg.volumeMounts.filter((v: any) => v.name.startsWith('tls-'))).toEqual([]);
      expect(envValue(pg, 'PATRONI_RESTAPI_CONNECT_ADDRESS')).toBe('$(PATRONI_NAME).db-pods:8008');
    }
  });

  test('outputs: source disabled, no CA ConfigMap and no publisher', () => {
    const { cluster, chart } = buildCluster({ tls: Tls.disabled() });
    expect(cluster.tls.source).toBe('disabled');
    expect(cluster.tls.enabled).toBe(false);
    expect(cluster.caConfigMapName).toBeUndefined();
    expect(Testing.synth(chart).filter((o: any) => /publish-ca|ca-cert/.test(o.metadata.name))).toEqual([]);
  });
});

describe('the oldest TLS version (config.connection.tlsMinVersion)', () => {
  const minVersion = (m: Manifest[]) => members(m).map((sts) => patroni(m, sts).postgresql.parameters.ssl_min_protocol_version);

  test('TLS 1.3 by default, on every member and the pooler', () => {
    const m = synthCluster({ pooler: {}, delayedReplicas: { applyDelay: Duration.hours(1) } });
    expect(minVersion(m)).toEqual(['TLSv1.3', 'TLSv1.3', 'TLSv1.3']);
    expect(find(m, 'ConfigMap', 'db-pooler').data['pgbouncer.ini']).toContain('client_tls_protocols = tlsv1.3\n');
  });

  test('TlsVersion.TLS_1_2 for older Java/JDBC clients: every member, and the pooler accepts 1.2 and 1.3', () => {
    const m = synthCluster({ pooler: {}, config: { connection: { tlsMinVersion: TlsVersion.TLS_1_2 } } });
    expect(minVersion(m)).toEqual(['TLSv1.2', 'TLSv1.2']);
    expect(find(m, 'ConfigMap', 'db-pooler').data['pgbouncer.ini']).toContain('client_tls_protocols = tlsv1.2,tlsv1.3\n');
    expect(buildCluster({ config: { connection: { tlsMinVersion: TlsVersion.TLS_1_2 } } }).cluster.config.tlsMinVersion).toBe('TLSv1.2');
  });

  test('without TLS there is no ssl_min_protocol_version', () => {
    expect(minVersion(synthCluster({ tls: Tls.disabled() }))).toEqual([undefined, undefined]);
  });

  test('a raw ssl_min_protocol_version is refused, naming the typed setting', () => {
    expect(() => buildCluster({ config: { parameters: { ssl_min_protocol_version: 'TLSv1' } } }))
      .toThrow('test/db: invalid config.parameters.ssl_min_protocol_version = "TLSv1": is set by config.connection.tlsMinVersion, not as a raw parameter');
  });

  test('a value outside TlsVersion is refused', () => {
    expect(() => buildCluster({ config: { connection: { tlsMinVersion: 'TLSv1.1' as TlsVersion } } }))
      .toThrow('test/db: invalid config.connection.tlsMinVersion = "TLSv1.1": must be one of TLSv1.2, TLSv1.3');
  });
});

describe('the CA certificate for clients, in each mode', () => {
  test.each<[string, (chart: any) => PostgresClusterProps, string]>([
    ['default', () => ({}), 'db-server-tls'],
    ['cert-manager with an issuer', () => ({ tls: Tls.certManager({ issuerName: 'x' }) }), 'db-server-tls'],
    ['from Secrets', (chart) => ({
      tls: Tls.fromSecrets({
        server: kplus.Secret.fromSecretName(chart, 's', 'srv'), replicationClient: kplus.Secret.fromSecretName(chart, 'r', 'repl'),
      }),
    }), 'srv'],
  ])('%s: ConfigMap db-ca-cert, filled from the ca.crt item of %s by a publisher with no right on Secrets', (_name, props, source) => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'db', { ...props(chart), users: [{ name: 'app_user' }] });
    const m = Testing.synth(chart) as Manifest[];
    expect(cluster.caConfigMapName).toBe('db-ca-cert');
    const cm = find(m, 'ConfigMap', 'db-ca-cert');
    // No data in the YAML (the publisher fills ca.crt; `kubectl apply` never owns it), no Patroni labels.
    expect(cm.data).toBeUndefined();
    expect(cm.metadata.labels?.['app.kubernetes.io/name']).toBe('postgresql-ca');
    const role = find(m, 'Role', 'db-publish-ca');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch'], resourceNames: ['db-ca-cert'] }]);
    const pods = podTemplates(m).filter((t) => t.spec.serviceAccountName === 'db-publish-ca');
    expect(pods.map((t) => t.owner.kind).sort()).toEqual(['CronJob', 'Job']);
    for (const t of pods) {
      // The kubelet reads the Secret; the pod sees the certificate alone.
      expect(t.spec.volumes).toEqual([{ name: 'ca', secret: { secretName: source, items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }]);
      const env = t.spec.containers[0].env;
      expect(env).toContainEqual({ name: 'CA_CONFIGMAP', value: 'db-ca-cert' });
      expect(env).toContainEqual({ name: 'CA_FILE', value: '/etc/postgres-ca-source/ca.crt' });
    }
    // The access Job verifies the server with the published certificate, not a Secret.
    const access = ofKind(m, 'Job').find((j) => j.metadata.name.startsWith('db-access-'))!;
    expect(access.spec.template.spec.volumes).toEqual([{ name: 'ca', configMap: { name: 'db-ca-cert', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }]);
  });
});

describe('authentication settings with and without TLS', () => {
  test('replicationAuth CERT is the default with TLS; SCRAM can be chosen', () => {
    const scram = synthCluster({ config: { connection: { replicationAuth: ClientAuthMethod.SCRAM_SHA_256 } } });
    expect(patroni(scram, find(scram, 'StatefulSet', 'db-primary')).postgresql.pg_hba).toContain('hostssl replication replicator 0.0.0.0/0 scram-sha-256');
    const cert = synthCluster({ config: { connection: { replicationAuth: ClientAuthMethod.CERT } } });
    expect(cert).toEqual(synthCluster());
  });

  test('clientAuth CERT: every network client authenticates by certificate over TLS', () => {
    const m = synthCluster({ config: { connection: { clientAuth: ClientAuthMethod.CERT } } });
    const hba: string[] = patroni(m, find(m, 'StatefulSet', 'db-primary')).postgresql.pg_hba;
    expect(hba).toContain('hostssl all all 0.0.0.0/0 cert');
    expect(hba).toContain('hostssl all all ::/0 cert');
  });

  test('user hostssl rules are accepted with TLS', () => {
    const m = synthCluster({
      config: { connection: { hbaRules: [{ type: HbaConnectionType.HOSTSSL, database: 'app', user: 'app', address: '10.0.0.0/8', method: ClientAuthMethod.CERT }] } },
    });
    expect(patroni(m, find(m, 'StatefulSet', 'db-primary')).postgresql.pg_hba).toContain('hostssl app app 10.0.0.0/8 cert');
  });
});

describe('validation', () => {
  /** The message building `test/db` throws. */
  function errorOf(props: PostgresClusterProps): string {
    try {
      new PostgresCluster(Testing.chart(), 'db', props);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the cluster to be refused');
  }

  test.each([
    [Tls.certManager({ duration: Duration.minutes(90) }), 'test/db: invalid tls.duration = "90min": must be a whole number of hours, at least 1 h'],
    [Tls.certManager({ duration: Duration.minutes(30) }), 'test/db: invalid tls.duration = "30min": must be a whole number of hours, at least 1 h'],
    [Tls.certManager({ renewBefore: Duration.minutes(30) }), 'test/db: invalid tls.renewBefore = "30min": must be a whole number of hours, at least 1 h'],
    // cert-manager refuses a renewBefore under 5 minutes
    [Tls.certManager({ renewBefore: Duration.hours(0) }), 'test/db: invalid tls.renewBefore = "0min": must be a whole number of hours, at least 1 h'],
    [Tls.certManager({ duration: Duration.days(10), renewBefore: Duration.days(10) }),
      'test/db: invalid tls.renewBefore = "240h": must be shorter than the certificate lifetime (240h)'],
    [Tls.certManager({ renewBefore: Duration.days(90) }), 'test/db: invalid tls.renewBefore = "2160h": must be shorter than the certificate lifetime (2160h)'],
    [Tls.certManager({ issuerName: 'Team_CA' }),
      'test/db: invalid tls.issuerName = "Team_CA": must be a Kubernetes object name: lower-case letters, digits, "-" and ".", at most 253 characters'],
    [Tls.certManager({ issuerName: '' }),
      'test/db: invalid tls.issuerName = "": must be a Kubernetes object name: lower-case letters, digits, "-" and ".", at most 253 characters'],
  ])('%#: refused with a message naming the property', (tls, message) => {
    expect(errorOf({ tls })).toBe(message);
  });

  test('the lifetimes are not checked for other sources', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { tls: Tls.disabled() })).not.toThrow();
  });

  test.each([
    [{ replicationAuth: ClientAuthMethod.CERT }, 'config.connection.replicationAuth', '"cert"', 'client certificates need TLS (tls is Tls.disabled())'],
    [{ clientAuth: ClientAuthMethod.CERT }, 'config.connection.clientAuth', '"cert"', 'client certificates need TLS (tls is Tls.disabled())'],
    [{ hbaRules: [{ database: 'app', user: 'app', address: '10.0.0.0/8', method: ClientAuthMethod.CERT }] },
      'config.connection.hbaRules[0].method', '"cert"', 'client certificates need TLS (tls is Tls.disabled())'],
    [{ hbaRules: [{ type: HbaConnectionType.HOSTSSL, database: 'app', user: 'app', address: '10.0.0.0/8', method: ClientAuthMethod.SCRAM_SHA_256 }] },
      'config.connection.hbaRules[0].type', '"hostssl"', 'needs TLS (tls is Tls.disabled())'],
  ])('without TLS, %j is refused naming the property', (connection, property, value, rule) => {
    expect(errorOf({ tls: Tls.disabled(), config: { connection } })).toMatch(new RegExp(
      `^test/db(/Primary)?: invalid ${property.replace(/[[\]]/g, '\\$&')} = ${value}: ${rule.replace(/[()]/g, '\\$&')}$`));
  });
});
