/**
 * NodeConfig: every setting of `config` (and `delayedReplicas`, `storage.type`) reaches the
 * rendered Patroni configuration (`patroni.yaml` of the `<sts>-config` ConfigMaps) and the pods.
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as fc from 'fast-check';
import { parse } from 'yaml';
import {
  ClientAuthMethod, HbaConnectionType, HugePages, ListenAddress, LogFormat, LogLevel, PostgresClusterProps, ReplicationMode,
  Resources, StorageType, Tls,
} from '../src';
import { Manifest, buildCluster, find, ofKind, selects, synthCluster } from './helpers/manifests';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MEMBER_SETS = ['db-primary', 'db-replica'];

function patroni(manifests: Manifest[], sts: string): any {
  return parse(find(manifests, 'ConfigMap', `${sts}-config`).data['patroni.yaml']);
}

/** The member's own postgresql parameters. */
function params(manifests: Manifest[], sts: string): Record<string, unknown> {
  return patroni(manifests, sts).postgresql.parameters;
}

function container(manifests: Manifest[], sts: string): any {
  return find(manifests, 'StatefulSet', sts).spec.template.spec.containers[0];
}

function env(manifests: Manifest[], sts: string, name: string): string | undefined {
  return container(manifests, sts).env.find((e: any) => e.name === name)?.value;
}

function volume(manifests: Manifest[], sts: string, name: string): any {
  return find(manifests, 'StatefulSet', sts).spec.template.spec.volumes.find((v: any) => v.name === name);
}

/** The member StatefulSets of a synthesized cluster. */
function memberSets(manifests: Manifest[]): string[] {
  return ofKind(manifests, 'StatefulSet').map((s) => s.metadata.name);
}

describe('defaults', () => {
  const m = synthCluster();
  const { cluster } = buildCluster();

  test('cluster.config exposes the effective settings', () => {
    const c = cluster.config;
    expect({
      databaseName: c.databaseName,
      port: c.port,
      maxConnections: c.maxConnections,
      replicationMode: c.replicationMode,
      synchronousStandbys: c.synchronousStandbys,
      slots: c.slots,
      maximumLagOnFailoverBytes: c.maximumLagOnFailoverBytes,
      listenAddress: c.listenAddress,
    }).toEqual({
      databaseName: 'app',
      port: 5432,
      maxConnections: 100,
      replicationMode: ReplicationMode.ASYNCHRONOUS,
      synchronousStandbys: 1,
      slots: true,
      maximumLagOnFailoverBytes: 32 * MiB,
      listenAddress: ListenAddress.ALL,
    });
    expect(c.resources).toBe(Resources.SMALL);
    expect(cluster.databaseName).toBe('app');
    expect(cluster.delayedReplicas).toBeUndefined();
  });

  test.each(MEMBER_SETS)('%s: database app on *:5432, text logs at WARNING, slots, keepalives 60/10/6', (sts) => {
    const cfg = patroni(m, sts);
    expect(cfg.postgresql.listen).toBe('*:5432');
    expect(cfg.log.level).toBe('WARNING');
    expect(cfg.bootstrap.dcs.postgresql.use_slots).toBe(true);
    expect(env(m, sts, 'PGC_DATABASE')).toBe('app');
    expect(cfg.postgresql.parameters).toMatchObject({
      log_min_messages: 'warning',
      logging_collector: 'off',
      log_destination: 'stderr',
      huge_pages: 'off',
      superuser_reserved_connections: 3,
      tcp_keepalives_idle: 60,
      tcp_keepalives_interval: 10,
      tcp_keepalives_count: 6,
      random_page_cost: 1.1,
      effective_io_concurrency: 64,
      shared_buffers: '128MB',
    });
    for (const p of ['log_directory', 'log_min_duration_statement', 'statement_timeout', 'idle_in_transaction_session_timeout',
      'idle_session_timeout', 'authentication_timeout', 'recovery_min_apply_delay']) {
      expect(cfg.postgresql.parameters[p]).toBeUndefined();
    }
    expect(volume(m, sts, 'dshm').emptyDir.sizeLimit).toBe('128Mi');
    expect(container(m, sts).resources.limits['hugepages-2Mi']).toBeUndefined();
  });

  test('post_bootstrap runs the post-bootstrap script shipped in the scripts ConfigMap', () => {
    const scripts = find(m, 'ConfigMap', 'db-scripts');
    expect(Object.keys(scripts.data).sort()).toEqual([
      'ensure-secrets.py', 'exporter-queries.yaml', 'heartbeat.py', 'on-role-change.py', 'post-bootstrap.sh', 'reload-on-change.sh', 'wait-for-leader.sh',
    ]);
    for (const sts of MEMBER_SETS) {
      const path: string = patroni(m, sts).bootstrap.post_bootstrap;
      const mount = container(m, sts).volumeMounts.find((v: any) => v.name === 'scripts');
      expect(path).toBe(`${mount.mountPath}/post-bootstrap.sh`);
    }
  });
});

describe('config.database', () => {
  test('name reaches PGC_DATABASE of every member and cluster.databaseName', () => {
    const m = synthCluster({ config: { database: { name: 'orders' } }, delayedReplicas: { applyDelay: Duration.hours(1) } });
    for (const sts of memberSets(m)) expect(env(m, sts, 'PGC_DATABASE')).toBe('orders');
    expect(buildCluster({ config: { database: { name: 'orders' } } }).cluster.databaseName).toBe('orders');
  });

  describe('a custom port', () => {
    const m = synthCluster({ config: { database: { port: 6543 } }, delayedReplicas: { applyDelay: Duration.hours(1) } });

    test('Patroni listens on it; the REST API stays on 8008', () => {
      for (const sts of memberSets(m)) {
        expect(patroni(m, sts).postgresql.listen).toBe('*:6543');
        expect(patroni(m, sts).restapi.listen).toBe('*:8008');
      }
    });

    test('container ports, connect address and PGPORT', () => {
      for (const sts of memberSets(m)) {
        expect(container(m, sts).ports).toEqual([
          { name: 'postgres', containerPort: 6543, protocol: 'TCP' },
          { name: 'patroni', containerPort: 8008, protocol: 'TCP' },
        ]);
        expect(env(m, sts, 'PGPORT')).toBe('6543');
        expect(env(m, sts, 'PATRONI_POSTGRESQL_CONNECT_ADDRESS')).toBe('$(PATRONI_NAME).db-pods:6543');
      }
    });

    test('Services expose it, targeting the named container port', () => {
      for (const name of ['db-primary', 'db-replicas']) {
        expect(find(m, 'Service', name).spec.ports).toEqual([{ name: 'postgres', port: 6543, targetPort: 'postgres', protocol: 'TCP' }]);
      }
      expect(find(m, 'Service', 'db-pods').spec.ports).toContainEqual({ name: 'postgres', port: 6543, targetPort: 'postgres', protocol: 'TCP' });
    });

    test('probes go to the named Patroni port; the wait-for-leader check uses the custom port', () => {
      for (const sts of memberSets(m)) {
        const c = container(m, sts);
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) expect(probe.httpGet.port).toBe('patroni');
      }
      for (const sts of ['db-replica', 'db-delayed']) {
        const init = find(m, 'StatefulSet', sts).spec.template.spec.initContainers[0];
        expect(init.env).toContainEqual({ name: 'PGC_PORT', value: '6543' });
      }
    });

    test('cluster.port', () => {
      expect(buildCluster({ config: { database: { port: 6543 } } }).cluster.port).toBe(6543);
    });
  });

  test.each([
    [ListenAddress.ALL, '*:5432'],
    [ListenAddress.IPV4, '0.0.0.0:5432'],
    [ListenAddress.IPV6, ':::5432'],
  ])('listenAddress %s -> listen %s', (listenAddress, listen) => {
    const m = synthCluster({ config: { database: { listenAddress } } });
    for (const sts of MEMBER_SETS) expect(patroni(m, sts).postgresql.listen).toBe(listen);
  });

  test.each([
    [LogLevel.DEBUG, 'debug1', 'DEBUG'],
    [LogLevel.INFO, 'info', 'INFO'],
    [LogLevel.NOTICE, 'notice', 'INFO'],
    [LogLevel.WARNING, 'warning', 'WARNING'],
    [LogLevel.ERROR, 'error', 'ERROR'],
  ])('logLevel %s -> log_min_messages %s, Patroni %s', (logLevel, minMessages, patroniLevel) => {
    const m = synthCluster({ config: { database: { logLevel } } });
    for (const sts of MEMBER_SETS) {
      expect(params(m, sts).log_min_messages).toBe(minMessages);
      expect(patroni(m, sts).log.level).toBe(patroniLevel);
    }
  });

  test.each([
    [LogFormat.CSV, 'csvlog'],
    [LogFormat.JSON, 'jsonlog'],
  ])('logFormat %s -> logging_collector on, log_destination %s in log/', (logFormat, destination) => {
    const m = synthCluster({ config: { database: { logFormat } } });
    for (const sts of MEMBER_SETS) {
      expect(params(m, sts)).toMatchObject({
        logging_collector: 'on',
        log_destination: destination,
        log_directory: 'log',
        log_filename: 'postgresql-%a.log',
        log_rotation_age: '1d',
        log_rotation_size: '100MB',
        log_truncate_on_rotation: 'on',
      });
    }
  });

  test('logFormat TEXT -> stderr without the collector', () => {
    const m = synthCluster({ config: { database: { logFormat: LogFormat.TEXT } } });
    expect(params(m, 'db-primary')).toMatchObject({ logging_collector: 'off', log_destination: 'stderr' });
    expect(params(m, 'db-primary').log_directory).toBeUndefined();
  });

  test('logStatementsSlowerThan -> log_min_duration_statement in ms', () => {
    const m = synthCluster({ config: { database: { logStatementsSlowerThan: Duration.seconds(2) } } });
    for (const sts of MEMBER_SETS) expect(params(m, sts).log_min_duration_statement).toBe(2000);
  });
});

describe('config.connection', () => {
  test('maxConnections is a cluster-wide (DCS) parameter on every member', () => {
    const m = synthCluster({ config: { connection: { maxConnections: 250 } } });
    for (const sts of MEMBER_SETS) {
      expect(patroni(m, sts).bootstrap.dcs.postgresql.parameters.max_connections).toBe(250);
      expect(params(m, sts).max_connections).toBeUndefined();
    }
  });

  test('timeouts in ms, connectTimeout in s, superuserReservedConnections', () => {
    const m = synthCluster({
      config: {
        connection: {
          superuserReservedConnections: 5,
          connectTimeout: Duration.seconds(30),
          statementTimeout: Duration.minutes(5),
          idleInTransactionTimeout: Duration.minutes(10),
          idleSessionTimeout: Duration.hours(12),
        },
      },
    });
    for (const sts of MEMBER_SETS) {
      expect(params(m, sts)).toMatchObject({
        superuser_reserved_connections: 5,
        authentication_timeout: 30,
        statement_timeout: 300000,
        idle_in_transaction_session_timeout: 600000,
        idle_session_timeout: 43200000,
      });
    }
  });

  test('TCP keepalives', () => {
    const m = synthCluster({
      config: { connection: { tcpKeepalives: { idle: Duration.minutes(2), interval: Duration.seconds(15), count: 4 } } },
    });
    for (const sts of MEMBER_SETS) {
      expect(params(m, sts)).toMatchObject({ tcp_keepalives_idle: 120, tcp_keepalives_interval: 15, tcp_keepalives_count: 4 });
    }
  });

  test('a partial keepalive setting keeps the other defaults', () => {
    const m = synthCluster({ config: { connection: { tcpKeepalives: { count: 3 } } } });
    expect(params(m, 'db-primary')).toMatchObject({ tcp_keepalives_idle: 60, tcp_keepalives_interval: 10, tcp_keepalives_count: 3 });
  });

  test('extra hba rules are placed after the replication rules and before the catch-all, in order', () => {
    const m = synthCluster({
      config: {
        connection: {
          hbaRules: [
            { database: 'all', user: 'all', address: '169.254.0.0/16', method: ClientAuthMethod.REJECT },
            { type: HbaConnectionType.HOSTSSL, database: 'app', user: '+readers', address: '10.0.0.0/8', method: ClientAuthMethod.SCRAM_SHA_256 },
            { type: HbaConnectionType.HOSTNOSSL, database: 'all', user: 'all', address: 'fd00::/8', method: ClientAuthMethod.REJECT },
          ],
        },
      },
    });
    for (const sts of MEMBER_SETS) {
      expect(patroni(m, sts).postgresql.pg_hba).toEqual([
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
        'hostssl all all 169.254.0.0/16 reject',
        'hostssl app +readers 10.0.0.0/8 scram-sha-256',
        'hostnossl all all fd00::/8 reject',
        'hostssl all all 0.0.0.0/0 scram-sha-256',
        'hostssl all all ::/0 scram-sha-256',
        'hostnossl all all 0.0.0.0/0 reject',
        'hostnossl all all ::/0 reject',
      ]);
    }
  });

  test('the superuser is refused over TCP before the user\'s rules; superuserNetworkAccess lifts only that', () => {
    const hba = (connection: object) => patroni(synthCluster({ config: { connection } }), 'db-primary').postgresql.pg_hba as string[];
    const closed = hba({ hbaRules: [{ database: 'all', user: 'all', address: '10.0.0.0/8', method: ClientAuthMethod.SCRAM_SHA_256 }] });
    expect(closed.indexOf('hostssl all postgres 0.0.0.0/0 reject')).toBeGreaterThan(-1);
    expect(closed.indexOf('hostssl all postgres ::/0 reject')).toBeLessThan(closed.indexOf('hostssl all all 10.0.0.0/8 scram-sha-256'));
    expect(closed.indexOf('local all postgres peer')).toBe(0);
    const open = hba({ superuserNetworkAccess: true });
    expect(open.filter((l) => / postgres .* reject$/.test(l))).toEqual([]);
    expect(open).toEqual(hba({}).filter((l) => !/^hostssl all postgres /.test(l)));
  });

  test('clientAuth REJECT closes the catch-all; replication still authenticates', () => {
    const m = synthCluster({
      config: {
        connection: {
          clientAuth: ClientAuthMethod.REJECT,
          hbaRules: [{ database: 'app', user: 'app', address: '10.0.0.0/8', method: ClientAuthMethod.SCRAM_SHA_256 }],
        },
      },
    });
    const hba: string[] = patroni(m, 'db-primary').postgresql.pg_hba;
    expect(hba.slice(-5)).toEqual([
      'hostssl app app 10.0.0.0/8 scram-sha-256', 'hostssl all all 0.0.0.0/0 reject', 'hostssl all all ::/0 reject',
      'hostnossl all all 0.0.0.0/0 reject', 'hostnossl all all ::/0 reject',
    ]);
    expect(hba).toContain('hostssl replication replicator 0.0.0.0/0 cert');
  });

  test('clientAuth REJECT without TLS: host rules, replication by password', () => {
    const m = synthCluster({
      tls: Tls.disabled(),
      config: {
        connection: {
          clientAuth: ClientAuthMethod.REJECT,
          hbaRules: [{ database: 'app', user: 'app', address: '10.0.0.0/8', method: ClientAuthMethod.SCRAM_SHA_256 }],
        },
      },
    });
    const hba: string[] = patroni(m, 'db-primary').postgresql.pg_hba;
    expect(hba.slice(-3)).toEqual(['host app app 10.0.0.0/8 scram-sha-256', 'host all all 0.0.0.0/0 reject', 'host all all ::/0 reject']);
    expect(hba).toContain('host replication replicator 0.0.0.0/0 scram-sha-256');
    expect(hba.filter((l) => l.startsWith('hostssl') || l.startsWith('hostnossl'))).toEqual([]);
  });

  test('replicationAuth SCRAM with TLS: replicas use passwords over TLS', () => {
    const m = synthCluster({ config: { connection: { replicationAuth: ClientAuthMethod.SCRAM_SHA_256 } } });
    expect(patroni(m, 'db-primary').postgresql.pg_hba.filter((l: string) => l.includes(' replication '))).toEqual([
      'hostssl replication replicator 0.0.0.0/0 scram-sha-256', 'hostssl replication replicator ::/0 scram-sha-256',
    ]);
  });

  test('replicationAuth REJECT closes replication from the network', () => {
    const m = synthCluster({ replicas: { count: 0 }, config: { connection: { replicationAuth: ClientAuthMethod.REJECT } } });
    const hba: string[] = patroni(m, 'db-primary').postgresql.pg_hba;
    expect(hba.filter((l) => l.includes(' replication '))).toEqual([
      'hostssl replication replicator 0.0.0.0/0 reject', 'hostssl replication replicator ::/0 reject',
    ]);
    expect(hba.slice(-3)).toEqual(['hostssl all all ::/0 scram-sha-256', 'hostnossl all all 0.0.0.0/0 reject', 'hostnossl all all ::/0 reject']);
  });

  test('every member has the same pg_hba', () => {
    const m = synthCluster({
      delayedReplicas: { applyDelay: Duration.hours(1) },
      config: { connection: { hbaRules: [{ database: 'all', user: 'all', address: '10.0.0.0/8', method: ClientAuthMethod.REJECT }] } },
    });
    const hbas = memberSets(m).map((sts) => JSON.stringify(patroni(m, sts).postgresql.pg_hba));
    expect(new Set(hbas).size).toBe(1);
  });
});

describe('config.replication', () => {
  test('slots false -> use_slots false', () => {
    const m = synthCluster({ config: { replication: { slots: false } } });
    for (const sts of MEMBER_SETS) expect(patroni(m, sts).bootstrap.dcs.postgresql.use_slots).toBe(false);
  });

  test('maxSlotWalKeepSize and walKeepSize', () => {
    const m = synthCluster({ config: { replication: { maxSlotWalKeepSize: Size.gibibytes(2), walKeepSize: Size.mebibytes(256) } } });
    for (const sts of MEMBER_SETS) expect(params(m, sts)).toMatchObject({ max_slot_wal_keep_size: '2048MB', wal_keep_size: '256MB' });
  });

  test('maximumLagOnFailover in bytes', () => {
    const m = synthCluster({ config: { replication: { maximumLagOnFailover: Size.mebibytes(16) } } });
    for (const sts of MEMBER_SETS) expect(patroni(m, sts).bootstrap.dcs.maximum_lag_on_failover).toBe(16 * MiB);
  });

  test('synchronous mode and standbys', () => {
    const m = synthCluster({ replicas: { count: 3 }, config: { replication: { mode: ReplicationMode.SYNCHRONOUS_STRICT, synchronousStandbys: 3 } } });
    for (const sts of MEMBER_SETS) {
      expect(patroni(m, sts).bootstrap.dcs).toMatchObject({ synchronous_mode: true, synchronous_mode_strict: true, synchronous_node_count: 3 });
    }
  });

  test.each([
    // storage GiB -> max_wal_size, max_slot_wal_keep_size, wal_keep_size (MB)
    [1, 256, 256, 64],
    [10, 1280, 2560, 512],
    [100, 12800, 25600, 512],
    [1024, 16384, 262144, 512],
  ])('default WAL bounds for %p GiB', (gib, maxWal, slotKeep, keep) => {
    const p = params(synthCluster({ replicas: { count: 0 }, storage: { size: Size.gibibytes(gib) } }), 'db-primary');
    expect([p.max_wal_size, p.max_slot_wal_keep_size, p.wal_keep_size]).toEqual([`${maxWal}MB`, `${slotKeep}MB`, `${keep}MB`]);
  });

  test('default WAL bounds relative to storage: max_wal_size 1/8 (256MB..16GB), slots 1/4, wal_keep_size 1/16 (at most 512MB)', () => {
    const mb = (v: unknown) => {
      const x = /^(\d+)MB$/.exec(String(v));
      if (!x) throw new Error(`not a MB setting: ${v}`);
      return Number(x[1]) * MiB;
    };
    fc.assert(fc.property(fc.integer({ min: 1024, max: 16 * 1024 * 1024 }), (storageMiB) => {
      const storage = storageMiB * MiB;
      const p = params(synthCluster({ replicas: { count: 0 }, storage: { size: Size.mebibytes(storageMiB) } }), 'db-primary');
      const maxWal = mb(p.max_wal_size);
      const slotKeep = mb(p.max_slot_wal_keep_size);
      const keep = mb(p.wal_keep_size);
      expect(maxWal).toBeGreaterThanOrEqual(Math.min(256 * MiB, storage));
      expect(maxWal).toBeLessThanOrEqual(Math.max(storage / 8, 256 * MiB));
      expect(maxWal).toBeLessThanOrEqual(16 * GiB);
      expect(slotKeep).toBeLessThanOrEqual(storage / 4);
      expect(slotKeep).toBeGreaterThan(storage / 4 - MiB);
      expect(keep).toBeLessThanOrEqual(Math.min(storage / 16, 512 * MiB));
      // slots may never hold back more WAL than the volume can take next to the other WAL
      expect(maxWal + slotKeep + keep).toBeLessThan(storage * 0.6);
      expect(slotKeep).toBeGreaterThanOrEqual(keep);
    }), { numRuns: 40 });
  });

  test('WAL bounds follow each node set\'s own volume', () => {
    const m = synthCluster({ storage: { size: Size.gibibytes(100) }, replicas: { storage: { size: Size.gibibytes(10) } } });
    expect(params(m, 'db-primary').max_slot_wal_keep_size).toBe('25600MB');
    expect(params(m, 'db-replica').max_slot_wal_keep_size).toBe('2560MB');
  });
});

describe('config.sharedMemory', () => {
  test('sharedBuffers and devShmSize override the derived values', () => {
    const m = synthCluster({ config: { sharedMemory: { sharedBuffers: Size.mebibytes(256), devShmSize: Size.mebibytes(96) } } });
    for (const sts of MEMBER_SETS) {
      expect(params(m, sts).shared_buffers).toBe('256MB');
      expect(volume(m, sts, 'dshm').emptyDir).toEqual({ medium: 'Memory', sizeLimit: '96Mi' });
    }
  });

  test('hugePages ON with a limit -> huge_pages on, hugepages-2Mi requested = limit on every member', () => {
    const m = synthCluster({
      delayedReplicas: { applyDelay: Duration.hours(1) },
      config: { sharedMemory: { hugePages: HugePages.ON, hugePagesLimit: Size.mebibytes(150) } },
    });
    for (const sts of memberSets(m)) {
      expect(params(m, sts).huge_pages).toBe('on');
      const r = container(m, sts).resources;
      expect(r.requests['hugepages-2Mi']).toBe('150Mi');
      expect(r.limits['hugepages-2Mi']).toBe('150Mi');
      // memory and cpu are unchanged
      expect(r.limits.memory).toBe('1024Mi');
    }
  });
});

describe('config.parameters', () => {
  test('raw parameters win over derived ones and reach every member', () => {
    const m = synthCluster({
      delayedReplicas: { applyDelay: Duration.hours(1) },
      config: {
        resources: Resources.LARGE,
        parameters: { 'work_mem': '8MB', 'random_page_cost': '1.5', 'shared_preload_libraries': 'pg_stat_statements', 'pg_stat_statements.track': 'top' },
      },
    });
    for (const sts of memberSets(m)) {
      expect(params(m, sts)).toMatchObject({
        'work_mem': '8MB', 'random_page_cost': '1.5', 'shared_preload_libraries': 'pg_stat_statements', 'pg_stat_statements.track': 'top',
      });
    }
    const derived = params(synthCluster({ config: { resources: Resources.LARGE } }), 'db-primary');
    expect(derived.work_mem).not.toBe('8MB');
    expect(derived.shared_preload_libraries).toBeUndefined();
  });

  test('rendered parameter keys stay sorted with raw parameters', () => {
    const m = synthCluster({ config: { parameters: { zz_custom: 'x', aa_custom: 'y' } } });
    const keys = Object.keys(params(m, 'db-primary'));
    expect(keys).toEqual([...keys].sort());
  });
});

describe('resources per node set', () => {
  const props: PostgresClusterProps = {
    primary: { resources: Resources.LARGE },
    replicas: { resources: Resources.MEDIUM },
    delayedReplicas: { applyDelay: Duration.hours(1), resources: Resources.of({ cpu: kplus.Cpu.units(8), memory: Size.gibibytes(8) }) },
  };
  const m = synthCluster(props);

  test('each node set derives its own memory settings', () => {
    expect(params(m, 'db-primary').shared_buffers).toBe('512MB');
    expect(params(m, 'db-replica').shared_buffers).toBe('256MB');
    expect(params(m, 'db-delayed').shared_buffers).toBe('1024MB');
    expect(volume(m, 'db-primary', 'dshm').emptyDir.sizeLimit).toBe('512Mi');
    expect(volume(m, 'db-replica', 'dshm').emptyDir.sizeLimit).toBe('256Mi');
    expect(params(m, 'db-primary').max_parallel_workers).toBe(2);
    expect(params(m, 'db-replica').max_parallel_workers).toBe(1);
    expect(params(m, 'db-delayed').max_parallel_workers).toBe(8);
  });

  test('the cluster-wide (bootstrap.dcs) settings are identical on every member', () => {
    const dcs = memberSets(m).map((sts) => JSON.stringify(patroni(m, sts).bootstrap.dcs));
    expect(dcs).toHaveLength(3);
    expect(new Set(dcs).size).toBe(1);
  });

  test('max_worker_processes is equal on every node set, from the largest CPU limit', () => {
    for (const sts of memberSets(m)) expect(patroni(m, sts).bootstrap.dcs.postgresql.parameters.max_worker_processes).toBe(12);
    const small = synthCluster({ primary: { resources: Resources.LARGE } });
    for (const sts of MEMBER_SETS) expect(patroni(small, sts).bootstrap.dcs.postgresql.parameters.max_worker_processes).toBe(8);
    const big = synthCluster({ replicas: { resources: Resources.of({ cpu: kplus.Cpu.units(6), memory: Size.gibibytes(8) }) } });
    for (const sts of MEMBER_SETS) expect(patroni(big, sts).bootstrap.dcs.postgresql.parameters.max_worker_processes).toBe(10);
  });

  test('config.resources is the default of every node set', () => {
    const d = synthCluster({ config: { resources: Resources.MEDIUM }, delayedReplicas: { applyDelay: Duration.hours(1) } });
    for (const sts of memberSets(d)) {
      expect(container(d, sts).resources.limits).toEqual({ cpu: '1', memory: '2048Mi' });
      expect(params(d, sts).shared_buffers).toBe('256MB');
    }
  });
});

describe('storage.type', () => {
  test.each([
    [undefined, 1.1, 64],
    [StorageType.NETWORK_SSD, 1.1, 64],
    [StorageType.LOCAL_SSD, 1.1, 200],
    [StorageType.HDD, 4, 2],
  ])('%p -> random_page_cost %p, effective_io_concurrency %p', (type, rpc, eic) => {
    const m = synthCluster({ storage: { type } });
    for (const sts of MEMBER_SETS) expect(params(m, sts)).toMatchObject({ random_page_cost: rpc, effective_io_concurrency: eic });
  });

  test('a node set\'s own storage type', () => {
    const m = synthCluster({ storage: { type: StorageType.HDD }, primary: { storage: { type: StorageType.LOCAL_SSD } } });
    expect(params(m, 'db-primary')).toMatchObject({ random_page_cost: 1.1, effective_io_concurrency: 200 });
    expect(params(m, 'db-replica')).toMatchObject({ random_page_cost: 4, effective_io_concurrency: 2 });
  });
});

describe('delayedReplicas', () => {
  const props: PostgresClusterProps = { delayedReplicas: { count: 2, applyDelay: Duration.hours(1) } };
  const m = synthCluster(props);
  const { cluster } = buildCluster(props);
  const podLabels = (sts: string) => find(m, 'StatefulSet', sts).spec.template.metadata.labels;

  test('a StatefulSet <name>-delayed with the count; the construct outputs', () => {
    expect(find(m, 'StatefulSet', 'db-delayed').spec.replicas).toBe(2);
    expect(cluster.delayedReplicas?.statefulSetName).toBe('db-delayed');
    expect(cluster.delayedReplicas?.count).toBe(2);
    expect(cluster.delayedReplicas?.serviceName).toBeUndefined();
    expect(find(m, 'ConfigMap', 'db-delayed-config')).toBeDefined();
  });

  test('count defaults to 1', () => {
    expect(find(synthCluster({ delayedReplicas: { applyDelay: Duration.minutes(5) } }), 'StatefulSet', 'db-delayed').spec.replicas).toBe(1);
  });

  test('Patroni tags: never promoted, never synchronous, never load-balanced', () => {
    expect(patroni(m, 'db-delayed').tags).toEqual({ nofailover: true, noloadbalance: true, clonefrom: false, nosync: true });
    for (const sts of MEMBER_SETS) {
      expect(patroni(m, sts).tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
    }
  });

  test('recovery_min_apply_delay only on the delayed replicas', () => {
    expect(params(m, 'db-delayed').recovery_min_apply_delay).toBe('3600s');
    for (const sts of MEMBER_SETS) expect(params(m, sts).recovery_min_apply_delay).toBeUndefined();
  });

  test('no Service of their own', () => {
    expect(ofKind(m, 'Service').map((s) => s.metadata.name).sort()).toEqual(['db-pods', 'db-primary', 'db-replicas']);
  });

  test('the read-only Service does not select them; it selects the streaming replicas', () => {
    const selector = find(m, 'Service', 'db-replicas').spec.selector;
    expect(selector['postgres.cdk8s.io/serves-reads']).toBe('true');
    const asReplica = (sts: string) => ({ ...podLabels(sts), 'postgres.cdk8s.io/role': 'replica' });
    expect(selects(selector, asReplica('db-delayed'))).toBe(false);
    expect(selects(selector, asReplica('db-replica'))).toBe(true);
    // a promoted-then-demoted preferred primary serves reads too
    expect(selects(selector, asReplica('db-primary'))).toBe(true);
    expect(podLabels('db-delayed')['postgres.cdk8s.io/serves-reads']).toBeUndefined();
  });

  test('the PodDisruptionBudget and the headless Service select them', () => {
    const pdb = ofKind(m, 'PodDisruptionBudget')[0];
    expect(selects(pdb.spec.selector.matchLabels, podLabels('db-delayed'))).toBe(true);
    expect(selects(find(m, 'Service', 'db-pods').spec.selector, podLabels('db-delayed'))).toBe(true);
    expect(find(m, 'StatefulSet', 'db-delayed').spec.serviceName).toBe('db-pods');
  });

  test('their own node-set label and selector, which no other StatefulSet matches', () => {
    const sel = find(m, 'StatefulSet', 'db-delayed').spec.selector.matchLabels;
    expect(sel['postgres.cdk8s.io/node-set']).toBe('delayed');
    for (const sts of MEMBER_SETS) expect(selects(sel, podLabels(sts))).toBe(false);
  });

  test('they wait for a leader before cloning', () => {
    const init = find(m, 'StatefulSet', 'db-delayed').spec.template.spec.initContainers;
    expect(init.map((c: any) => c.name)).toEqual(['wait-for-leader']);
  });

  test('their own resources and storage', () => {
    const d = synthCluster({
      delayedReplicas: { applyDelay: Duration.seconds(90), resources: Resources.MEDIUM, storage: { size: Size.gibibytes(50), storageClassName: 'slow' } },
    });
    expect(container(d, 'db-delayed').resources.limits).toEqual({ cpu: '1', memory: '2048Mi' });
    expect(find(d, 'StatefulSet', 'db-delayed').spec.volumeClaimTemplates[0].spec).toMatchObject({
      storageClassName: 'slow', resources: { requests: { storage: '51200Mi' } },
    });
    expect(params(d, 'db-delayed').recovery_min_apply_delay).toBe('90s');
    expect(container(d, 'db-replica').resources.limits).toEqual({ cpu: '500m', memory: '1024Mi' });
  });

  test('scaling them changes only their StatefulSet and the config Job, its Role and both CronJobs (their members)', () => {
    const key = (x: Manifest) => `${x.kind}/${x.metadata.name}`.replace(/^(Job\/db-config)-[0-9a-f]{8}$/, '$1');
    const before = synthCluster({ delayedReplicas: { count: 1, applyDelay: Duration.hours(1) } });
    const after = synthCluster({ delayedReplicas: { count: 3, applyDelay: Duration.hours(1) } });
    expect(after.map(key)).toEqual(before.map(key));
    const changed = before.filter((x, i) => JSON.stringify(x) !== JSON.stringify(after[i])).map(key);
    expect(changed).toEqual(['StatefulSet/db-delayed', 'Role/db-config', 'Job/db-config', 'CronJob/db-reconcile', 'CronJob/db-restart']);
  });

  test('adding them does not change the primary or the replicas', () => {
    const without = synthCluster();
    const withDelayed = synthCluster({ delayedReplicas: { applyDelay: Duration.hours(1) } });
    for (const name of ['db-primary', 'db-replica']) {
      expect(find(withDelayed, 'StatefulSet', name)).toEqual(find(without, 'StatefulSet', name));
      expect(find(withDelayed, 'ConfigMap', `${name}-config`)).toEqual(find(without, 'ConfigMap', `${name}-config`));
    }
  });
});

describe('regressions found in review', () => {
  test('many CPUs with few connections: the derived /dev/shm grows to hold parallel query, and the budget still fits', () => {
    const m = synthCluster({ config: { resources: Resources.XLARGE, connection: { maxConnections: 10 } } });
    const p = params(m, 'db-primary');
    const workMemKiB = Number(String(p.work_mem).replace('kB', ''));
    const shm = volume(m, 'db-primary', 'dshm').emptyDir.sizeLimit;
    const shmMiB = Number(String(shm).replace('Mi', ''));
    // (max_parallel_workers + 1) x work_mem + 16 MiB
    expect(shmMiB * MiB).toBeGreaterThanOrEqual((Number(p.max_parallel_workers) + 1) * workMemKiB * 1024 + 16 * MiB);
  });

  test('raw cluster-wide parameters go to the DCS (Patroni ignores member values for them)', () => {
    const m = synthCluster({ config: { parameters: { max_locks_per_transaction: '256', track_commit_timestamp: 'on' } } });
    for (const sts of MEMBER_SETS) {
      const cfg = patroni(m, sts);
      expect(cfg.bootstrap.dcs.postgresql.parameters.max_locks_per_transaction).toBe('256');
      expect(cfg.bootstrap.dcs.postgresql.parameters.track_commit_timestamp).toBe('on');
      expect(cfg.postgresql.parameters.max_locks_per_transaction).toBeUndefined();
    }
  });

  test('a non-numeric raw max_parallel_workers is refused', () => {
    expect(() => synthCluster({ config: { parameters: { max_parallel_workers: 'many' } } }))
      .toThrow(/invalid config\.parameters\.max_parallel_workers = "many": must be a whole number/);
  });
});
