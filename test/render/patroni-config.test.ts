import { parse } from 'yaml';
import { PatroniConfigInput, patroniConfig, renderPatroniConfig } from '../../src/render/patroni-config';

function input(overrides: Partial<PatroniConfigInput> = {}): PatroniConfigInput {
  return {
    scope: 'db',
    kubernetes: {
      labels: { 'app.kubernetes.io/name': 'postgresql' },
      scopeLabel: 'postgres.cdk8s.io/cluster',
      roleLabel: 'postgres.cdk8s.io/role',
      leaderLabelValue: 'primary',
      followerLabelValue: 'replica',
      useEndpoints: false,
    },
    ttl: 30,
    loopWait: 10,
    retryTimeout: 10,
    maximumLagOnFailover: 33554432,
    synchronous: { enabled: false, strict: false, standbys: 1 },
    clusterParameters: { max_connections: 100, wal_level: 'replica' },
    memberParameters: { shared_buffers: '128MB', huge_pages: 'off', checkpoint_completion_target: 0.9 },
    hba: ['local all postgres peer', 'host all all 0.0.0.0/0 scram-sha-256'],
    dataDir: '/pgdata/pg17',
    binDir: '/usr/pgsql-17/bin',
    pgpassPath: '/tmp/pgpass',
    listenHost: '*',
    port: 5432,
    restApiPort: 8008,
    superuser: 'postgres',
    replicationUser: 'replicator',
    rewindUser: 'cdk8s_rewind',
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    useSlots: true,
    patroniLogLevel: 'WARNING',
    postBootstrap: '/opt/cdk8s-postgres/post-bootstrap.sh',
    ...overrides,
  };
}

describe('patroniConfig', () => {
  const cfg = patroniConfig(input()) as any;

  test('top-level structure', () => {
    expect(Object.keys(cfg).sort()).toEqual(['bootstrap', 'kubernetes', 'log', 'postgresql', 'restapi', 'scope', 'tags', 'watchdog'].sort());
    expect(cfg.scope).toBe('db');
    expect(cfg.restapi).toEqual({ listen: '*:8008' });
    expect(cfg.watchdog).toEqual({ mode: 'off' });
    expect(cfg.tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
  });

  test('Kubernetes DCS: labels and explicit role label values (Patroni 4 would default the leader to "primary" but older to "master")', () => {
    expect(cfg.kubernetes).toEqual({
      labels: { 'app.kubernetes.io/name': 'postgresql' },
      scope_label: 'postgres.cdk8s.io/cluster',
      role_label: 'postgres.cdk8s.io/role',
      leader_label_value: 'primary',
      follower_label_value: 'replica',
      standby_leader_label_value: 'primary',
      use_endpoints: false,
    });
  });

  test('custom role label values are rendered as given', () => {
    const k = (patroniConfig(input({ kubernetes: { ...input().kubernetes, leaderLabelValue: 'leader', followerLabelValue: 'follower' } })) as any).kubernetes;
    expect(k.leader_label_value).toBe('leader');
    expect(k.follower_label_value).toBe('follower');
  });

  test('use_endpoints follows the DCS mode', () => {
    expect((patroniConfig(input({ kubernetes: { ...input().kubernetes, useEndpoints: true } })) as any).kubernetes.use_endpoints).toBe(true);
  });

  test('timings, lag and failsafe_mode are in bootstrap.dcs', () => {
    const dcs = (patroniConfig(input({ ttl: 20, loopWait: 2, retryTimeout: 9, maximumLagOnFailover: 1048576 })) as any).bootstrap.dcs;
    expect(dcs).toMatchObject({ ttl: 20, loop_wait: 2, retry_timeout: 9, maximum_lag_on_failover: 1048576, failsafe_mode: true });
    expect(dcs.postgresql).toMatchObject({ use_pg_rewind: true, use_slots: true });
  });

  test('synchronous settings', () => {
    expect(cfg.bootstrap.dcs).toMatchObject({ synchronous_mode: false, synchronous_mode_strict: false });
    const sync = (patroniConfig(input({ synchronous: { enabled: true, strict: true, standbys: 2 } })) as any).bootstrap.dcs;
    expect(sync).toMatchObject({ synchronous_mode: true, synchronous_mode_strict: true, synchronous_node_count: 2 });
  });

  test('cluster parameters go to the DCS, member parameters to the member', () => {
    expect(cfg.bootstrap.dcs.postgresql.parameters).toEqual({ max_connections: 100, wal_level: 'replica' });
    expect(cfg.postgresql.parameters).toEqual({ shared_buffers: '128MB', huge_pages: 'off', checkpoint_completion_target: 0.9 });
  });

  test('postgresql section', () => {
    expect(cfg.postgresql).toMatchObject({
      listen: '*:5432',
      data_dir: '/pgdata/pg17',
      bin_dir: '/usr/pgsql-17/bin',
      pgpass: '/tmp/pgpass',
      use_unix_socket: true,
      authentication: { superuser: { username: 'postgres' }, replication: { username: 'replicator' } },
      pg_hba: ['local all postgres peer', 'host all all 0.0.0.0/0 scram-sha-256'],
      create_replica_methods: ['basebackup'],
    });
    expect(cfg.bootstrap.initdb).toEqual([{ encoding: 'UTF8' }, 'data-checksums']);
  });

  test('listen host and port', () => {
    expect((patroniConfig(input({ listenHost: '0.0.0.0', port: 6543 })) as any).postgresql.listen).toBe('0.0.0.0:6543');
    expect((patroniConfig(input({ listenHost: '::', port: 5433 })) as any).postgresql.listen).toBe(':::5433');
  });

  test('use_slots follows useSlots', () => {
    expect(cfg.bootstrap.dcs.postgresql.use_slots).toBe(true);
    expect((patroniConfig(input({ useSlots: false })) as any).bootstrap.dcs.postgresql.use_slots).toBe(false);
  });

  test("Patroni's log level", () => {
    expect(cfg.log).toEqual({ level: 'WARNING' });
    expect((patroniConfig(input({ patroniLogLevel: 'DEBUG' })) as any).log).toEqual({ level: 'DEBUG' });
  });

  test('post_bootstrap runs the given script', () => {
    expect(cfg.bootstrap.post_bootstrap).toBe('/opt/cdk8s-postgres/post-bootstrap.sh');
  });

  test('tags are rendered as given (a delayed replica is never promoted, synchronous or load-balanced)', () => {
    const tags = { nofailover: true, noloadbalance: true, clonefrom: false, nosync: true };
    expect((patroniConfig(input({ tags })) as any).tags).toEqual(tags);
  });

  test('no password and no per-pod value is in the file (they come from the environment)', () => {
    const text = JSON.stringify(cfg);
    expect(text).not.toMatch(/"password"/i);
    expect(cfg.postgresql.authentication.superuser.password).toBeUndefined();
    expect(cfg.name).toBeUndefined();
    expect(cfg.postgresql.connect_address).toBeUndefined();
    expect(cfg.restapi.connect_address).toBeUndefined();
  });

  test('does not share structure with its input', () => {
    const i = input();
    const out = patroniConfig(i) as any;
    out.kubernetes.labels.extra = 'x';
    out.postgresql.pg_hba.push('x');
    out.bootstrap.dcs.postgresql.parameters.extra = 1;
    expect(i.kubernetes.labels).toEqual({ 'app.kubernetes.io/name': 'postgresql' });
    expect(i.hba).toHaveLength(2);
    expect(i.clusterParameters).toEqual({ max_connections: 100, wal_level: 'replica' });
  });
});

describe('renderPatroniConfig', () => {
  test('is valid YAML that parses back to the same object', () => {
    const i = input({ synchronous: { enabled: true, strict: false, standbys: 1 } });
    const text = renderPatroniConfig(i);
    expect(parse(text)).toEqual(patroniConfig(i));
  });

  test('quotes values YAML would otherwise read as booleans or other types', () => {
    const i = input({ memberParameters: { huge_pages: 'off', jit: 'on', wal_log_hints: 'yes', log_line_prefix: '%m [%p] %q%u@%d ', x: '0755' } });
    const parsed = parse(renderPatroniConfig(i));
    expect(parsed.postgresql.parameters).toEqual({ huge_pages: 'off', jit: 'on', wal_log_hints: 'yes', log_line_prefix: '%m [%p] %q%u@%d ', x: '0755' });
    expect(parsed.postgresql.listen).toBe('*:5432');
    expect(parsed.watchdog.mode).toBe('off');
  });

  test('is deterministic', () => {
    expect(renderPatroniConfig(input())).toBe(renderPatroniConfig(input()));
  });
});

describe('patroniConfig with TLS', () => {
  const tls = {
    certFile: '/s/tls.crt', keyFile: '/s/tls.key', caFile: '/s/ca.crt', replicationCertFile: '/r/tls.crt', replicationKeyFile: '/r/tls.key',
  };
  const cfg = patroniConfig(input({ tls })) as any;

  test('HTTPS REST API asking for client certificates (required only for unsafe endpoints)', () => {
    expect(cfg.restapi).toEqual({ listen: '*:8008', certfile: '/s/tls.crt', keyfile: '/s/tls.key', cafile: '/s/ca.crt', verify_client: 'optional' });
  });

  test('patronictl uses the server certificate and trusts the CA', () => {
    expect(cfg.ctl).toEqual({ certfile: '/s/tls.crt', keyfile: '/s/tls.key', cacert: '/s/ca.crt' });
  });

  test('connections verify the CA; replication presents its client certificate', () => {
    expect(cfg.postgresql.authentication).toEqual({
      superuser: { username: 'postgres', sslmode: 'verify-ca', sslrootcert: '/s/ca.crt' },
      replication: { username: 'replicator', sslmode: 'verify-ca', sslrootcert: '/s/ca.crt', sslcert: '/r/tls.crt', sslkey: '/r/tls.key' },
      // pg_rewind connects as its own role, verifying the CA like the superuser would.
      rewind: { username: 'cdk8s_rewind', sslmode: 'verify-ca', sslrootcert: '/s/ca.crt' },
    });
  });

  test('without TLS: no ctl section, no TLS keys', () => {
    const plain = patroniConfig(input()) as any;
    expect(plain.ctl).toBeUndefined();
    expect(plain.postgresql.authentication).toEqual({
      superuser: { username: 'postgres' }, replication: { username: 'replicator' }, rewind: { username: 'cdk8s_rewind' },
    });
  });
});
