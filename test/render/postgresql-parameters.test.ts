import { tuneFromLimits } from '../../src/render/memory-tuning';
import { MemberParameterInput, OWNED_PARAMETERS, clusterParameters, memberParameters, sorted } from '../../src/render/postgresql-parameters';
import { MiB } from '../../src/render/units';

const GiB = 1024 * MiB;
const tuning = tuneFromLimits({ memoryBytes: GiB, cpus: 0.5, maxConnections: 100, disk: 'network-ssd' });

function input(overrides: Partial<MemberParameterInput> = {}): MemberParameterInput {
  return {
    postgresVersion: 17,
    tuning,
    maxWalSize: 1280 * MiB,
    maxSlotWalKeepSize: 2560 * MiB,
    walKeepSize: 512 * MiB,
    socketDirectory: '/tmp',
    hugePages: 'off',
    logging: { minMessages: 'warning', toFiles: false, format: 'text' },
    connection: {
      superuserReservedConnections: 3, tcpKeepalivesIdleSeconds: 60, tcpKeepalivesIntervalSeconds: 10, tcpKeepalivesCount: 6,
    },
    overrides: {},
    ...overrides,
  };
}
const member = (overrides: Partial<MemberParameterInput> = {}) => memberParameters(input(overrides));

function isSorted(keys: string[]): boolean {
  return keys.every((k, i) => i === 0 || keys[i - 1] < k);
}

describe('clusterParameters', () => {
  const p = clusterParameters({ maxConnections: 150, maxWalSenders: 16, maxReplicationSlots: 16, maxWorkerProcesses: 8, walLevel: 'replica' });

  test('renders the settings every member must share', () => {
    expect(p).toEqual({
      max_connections: 150,
      max_locks_per_transaction: 64,
      max_prepared_transactions: 0,
      max_replication_slots: 16,
      max_wal_senders: 16,
      max_worker_processes: 8,
      track_commit_timestamp: 'off',
      wal_level: 'replica',
    });
  });

  test('keys are sorted', () => {
    expect(isSorted(Object.keys(p))).toBe(true);
  });
});

describe('memberParameters', () => {
  test('memory settings come from the tuning', () => {
    const p = member();
    expect(p.shared_buffers).toBe(`${tuning.sharedBuffers / MiB}MB`);
    expect(p.work_mem).toBe(`${tuning.workMem / 1024}kB`);
    expect(p.maintenance_work_mem).toBe(`${tuning.maintenanceWorkMem / MiB}MB`);
    expect(p.autovacuum_work_mem).toBe(`${tuning.autovacuumWorkMem / MiB}MB`);
    expect(p.effective_cache_size).toBe(`${tuning.effectiveCacheSize / MiB}MB`);
    expect(p.wal_buffers).toBe(`${tuning.walBuffers / 1024}kB`);
    expect(p.max_parallel_workers).toBe(tuning.maxParallelWorkers);
    expect(p.max_parallel_workers_per_gather).toBe(tuning.maxParallelWorkersPerGather);
    expect(p.max_parallel_maintenance_workers).toBe(tuning.maxParallelMaintenanceWorkers);
    expect(p.random_page_cost).toBe(tuning.randomPageCost);
    expect(p.effective_io_concurrency).toBe(tuning.effectiveIoConcurrency);
    expect(p.huge_pages).toBe('off');
    expect(p.dynamic_shared_memory_type).toBe('posix');
    expect(p.password_encryption).toBe('scram-sha-256');
    expect(p.unix_socket_directories).toBe('/tmp');
    expect(p.wal_log_hints).toBe('on');
    expect(p.archive_mode).toBe('off');
  });

  test('work_mem is rendered in kB, never below 64kB', () => {
    expect(member({ tuning: { ...tuning, workMem: 1536 * 1024 } }).work_mem).toBe('1536kB');
    expect(member({ tuning: { ...tuning, workMem: 1000 } }).work_mem).toBe('64kB');
  });

  test('WAL bounds are rendered as given, in MB', () => {
    const p = member({ maxWalSize: 256 * MiB, maxSlotWalKeepSize: 20 * GiB, walKeepSize: GiB + 5 });
    expect([p.max_wal_size, p.max_slot_wal_keep_size, p.wal_keep_size]).toEqual(['256MB', '20480MB', '1024MB']);
  });

  test('huge_pages as given', () => {
    expect(member({ hugePages: 'on' }).huge_pages).toBe('on');
  });

  test('text logs go to stderr without the collector', () => {
    const p = member();
    expect(p).toMatchObject({ logging_collector: 'off', log_destination: 'stderr', log_min_messages: 'warning' });
    expect(p.log_directory).toBeUndefined();
    expect(p.log_min_duration_statement).toBeUndefined();
  });

  test.each([
    ['csv', 'csvlog'],
    ['json', 'jsonlog'],
  ] as const)('%s logs go to rotated files (%s) in log/', (format, destination) => {
    const p = member({ logging: { minMessages: 'info', toFiles: true, format, slowStatementMs: 250 } });
    expect(p).toMatchObject({
      logging_collector: 'on',
      log_destination: destination,
      log_directory: 'log',
      log_min_messages: 'info',
      log_rotation_age: '1d',
      log_truncate_on_rotation: 'on',
      log_min_duration_statement: 250,
    });
  });

  test('connection settings and timeouts; unset timeouts are left to PostgreSQL', () => {
    const p = member({
      connection: {
        superuserReservedConnections: 5,
        authenticationTimeoutSeconds: 30,
        statementTimeoutMs: 300000,
        idleInTransactionTimeoutMs: 600000,
        idleSessionTimeoutMs: 1500,
        tcpKeepalivesIdleSeconds: 120,
        tcpKeepalivesIntervalSeconds: 15,
        tcpKeepalivesCount: 4,
      },
    });
    expect(p).toMatchObject({
      superuser_reserved_connections: 5,
      authentication_timeout: 30,
      statement_timeout: 300000,
      idle_in_transaction_session_timeout: 600000,
      idle_session_timeout: 1500,
      tcp_keepalives_idle: 120,
      tcp_keepalives_interval: 15,
      tcp_keepalives_count: 4,
    });
    const d = member();
    for (const k of ['authentication_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout', 'idle_session_timeout']) {
      expect(d[k]).toBeUndefined();
    }
  });

  test('recovery_min_apply_delay only for a delayed replica', () => {
    expect(member().recovery_min_apply_delay).toBeUndefined();
    expect(member({ applyDelaySeconds: 3600 }).recovery_min_apply_delay).toBe('3600s');
  });

  test('raw overrides win over derived values and add new parameters', () => {
    const p = member({ overrides: { work_mem: '8MB', shared_preload_libraries: 'pg_stat_statements', jit: 'on' } });
    expect(p.work_mem).toBe('8MB');
    expect(p.jit).toBe('on');
    expect(p.shared_preload_libraries).toBe('pg_stat_statements');
    expect(isSorted(Object.keys(p))).toBe(true);
  });

  test('lz4 WAL compression from PostgreSQL 15', () => {
    expect(member({ postgresVersion: 15 }).wal_compression).toBe('lz4');
    expect(member({ postgresVersion: 18 }).wal_compression).toBe('lz4');
    expect(member({ postgresVersion: 14 }).wal_compression).toBe('on');
  });

  test('keys are sorted', () => {
    expect(isSorted(Object.keys(member()))).toBe(true);
  });

  test('renders none of the cluster-wide parameters (those live in the DCS)', () => {
    const p = member();
    const cluster = clusterParameters({ maxConnections: 100, maxWalSenders: 16, maxReplicationSlots: 16, maxWorkerProcesses: 8, walLevel: 'replica' });
    for (const name of Object.keys(cluster)) expect(p[name]).toBeUndefined();
  });
});

describe('OWNED_PARAMETERS', () => {
  test.each([
    'listen_addresses', 'port', 'archive_command', 'restore_command', 'ssl_cert_file', 'unix_socket_directories', 'hot_standby',
    'primary_conninfo', 'synchronous_standby_names',
  ])('owns %s', (name) => {
    expect(OWNED_PARAMETERS[name]).toEqual(expect.any(String));
    expect(OWNED_PARAMETERS[name].length).toBeGreaterThan(0);
  });

  test('names the typed setting to use for the ones it derives', () => {
    expect(OWNED_PARAMETERS).toMatchObject({
      listen_addresses: 'config.database.listenAddress',
      port: 'config.database.port',
      max_connections: 'config.connection.maxConnections',
      shared_buffers: 'config.sharedMemory.sharedBuffers',
      huge_pages: 'config.sharedMemory.hugePages',
      recovery_min_apply_delay: 'delayedReplicas.applyDelay',
      statement_timeout: 'config.connection.statementTimeout',
      max_slot_wal_keep_size: 'config.replication.maxSlotWalKeepSize',
      wal_keep_size: 'config.replication.walKeepSize',
    });
    expect(OWNED_PARAMETERS.synchronous_standby_names).toMatch(/config\.replication\.mode/);
  });

  test('owns every cluster-wide parameter Patroni keeps in the DCS', () => {
    // Patroni ignores these in a member's local parameters, so a raw value would be silently dropped.
    for (const name of ['max_connections', 'max_wal_senders', 'max_replication_slots', 'max_worker_processes', 'wal_level']) {
      expect(OWNED_PARAMETERS[name]).toBeDefined();
    }
  });

  test('keys are lower-case parameter names', () => {
    for (const name of Object.keys(OWNED_PARAMETERS)) expect(name).toMatch(/^[a-z_]+$/);
  });
});

describe('sorted', () => {
  test('returns a copy with keys in order and the same values', () => {
    const unsorted = { b: 1, a: 'x', c: true };
    const out = sorted(unsorted);
    expect(Object.keys(out)).toEqual(['a', 'b', 'c']);
    expect(out).toEqual(unsorted);
    expect(out).not.toBe(unsorted);
  });
});

describe('memberParameters with TLS', () => {
  const ssl = { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key', caFile: '/tls/ca.crt' };

  test('ssl on with the given files and TLS 1.3 at least', () => {
    expect(member({ ssl })).toMatchObject({
      ssl: 'on', ssl_cert_file: '/tls/tls.crt', ssl_key_file: '/tls/tls.key', ssl_ca_file: '/tls/ca.crt', ssl_min_protocol_version: 'TLSv1.3',
    });
    expect(isSorted(Object.keys(member({ ssl })))).toBe(true);
  });

  test('no ssl parameter without TLS', () => {
    expect(Object.keys(member()).filter((k) => k.startsWith('ssl'))).toEqual([]);
  });

  test('the TLS files are owned parameters', () => {
    for (const p of ['ssl', 'ssl_cert_file', 'ssl_key_file', 'ssl_ca_file']) expect(OWNED_PARAMETERS[p]).toBe('the TLS configuration');
  });
});
