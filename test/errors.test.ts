import { Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import {
  ClientAuthMethod, DatabaseOptions, FailoverTiming, HugePages, PostgresCluster, PostgresClusterProps, PostgresImage, ReplicationMode, Resources,
} from '../src';
import { UserOptions } from '../src/access';
import { HeartbeatOptions, SidecarOptions } from '../src/monitoring';
import { find, synthCluster } from './helpers/manifests';
import { OWNED_PARAMETERS } from '../src/render/postgresql-parameters';

/** Builds `test/db` and returns the message it throws (fails the test if it does not throw). */
function errorOf(props: PostgresClusterProps): string {
  const chart = Testing.chart();
  try {
    new PostgresCluster(chart, 'db', props);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`expected new PostgresCluster(test, 'db', ${JSON.stringify(props)}) to throw`);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Asserts the message names the path, the property, the value and the rule. */
function expectError(props: PostgresClusterProps, path: string, property: string, value: string, rule: RegExp): void {
  const message = errorOf(props);
  expect(message).toMatch(new RegExp(`^${escape(path)}: invalid ${escape(property)} = ${escape(value)}: `));
  expect(message).toMatch(rule);
}

const gib = (n: number) => Size.gibibytes(n);
const mib = (n: number) => Size.mebibytes(n);
const timing = (ttl: number, loopWait: number, retryTimeout: number) => FailoverTiming.of({
  ttl: Duration.seconds(ttl), loopWait: Duration.seconds(loopWait), retryTimeout: Duration.seconds(retryTimeout),
});

describe('clusterName', () => {
  test.each([
    ['Orders', 'upper case'],
    ['orders_db', 'underscore'],
    ['-orders', 'leading dash'],
    ['orders-', 'trailing dash'],
    ['orders.db', 'dot'],
    ['', 'empty'],
  ])('%j (%s) is not a DNS label', (name) => {
    expectError({ clusterName: name }, 'test/db', 'clusterName', JSON.stringify(name), /RFC 1123 DNS label/);
  });

  test('more than 40 characters is refused', () => {
    const name = 'a'.repeat(41);
    expectError({ clusterName: name }, 'test/db', 'clusterName', JSON.stringify(name), /at most 40 characters/);
  });

  test('exactly 40 characters is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { clusterName: 'a'.repeat(40) })).not.toThrow();
  });

  test('an invalid construct id is refused when no clusterName is given', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'My_DB')).toThrow(/^test\/My_DB: invalid clusterName = "My_DB": .*DNS label/);
  });
});

describe('replicas', () => {
  test.each([[-1], [1.5], [13], [100]])('count %p is refused', (count) => {
    expectError({ replicas: { count } }, 'test/db', 'replicas.count', String(count), /whole number from 0 to 12/);
  });

  test.each([[0], [12]])('count %p is accepted', (count) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { replicas: { count } })).not.toThrow();
  });

  test.each([ReplicationMode.SYNCHRONOUS, ReplicationMode.SYNCHRONOUS_STRICT])('%s with 0 replicas is refused', (mode) => {
    expectError({ replicas: { count: 0 }, config: { replication: { mode } } }, 'test/db', 'config.replication.mode', JSON.stringify(mode),
      /synchronous replication needs at least one replica \(replicas.count is 0; delayed replicas are never synchronous\)/);
  });

  test.each([[0, 2], [3, 2], [2, 1]])('synchronousStandbys %p with count %p is refused', (standbys, count) => {
    expectError({ replicas: { count }, config: { replication: { mode: ReplicationMode.SYNCHRONOUS, synchronousStandbys: standbys } } },
      'test/db', 'config.replication.synchronousStandbys', String(standbys), new RegExp(`whole number from 1 to ${count}`));
  });

  test('fractional synchronousStandbys is refused', () => {
    expectError({ replicas: { count: 3 }, config: { replication: { mode: ReplicationMode.SYNCHRONOUS_STRICT, synchronousStandbys: 1.5 } } },
      'test/db', 'config.replication.synchronousStandbys', '1.5', /whole number/);
  });

  test.each([[undefined], [ReplicationMode.ASYNCHRONOUS]])('synchronousStandbys with asynchronous mode (%p) is refused', (mode) => {
    expectError({ config: { replication: { mode, synchronousStandbys: 1 } } }, 'test/db', 'config.replication.synchronousStandbys', '1',
      /only applies with ReplicationMode.SYNCHRONOUS or SYNCHRONOUS_STRICT/);
  });

  test('maximumLagOnFailover below 1Mi is refused', () => {
    expectError({ config: { replication: { maximumLagOnFailover: Size.kibibytes(512) } } }, 'test/db', 'config.replication.maximumLagOnFailover', '"512Ki"',
      /at least 1Mi/);
  });

  test('maximumLagOnFailover of exactly 1Mi is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config: { replication: { maximumLagOnFailover: mib(1) } } })).not.toThrow();
  });
});

describe('maxConnections', () => {
  test.each([[9], [0], [10001], [50.5]])('%p is refused', (maxConnections) => {
    expectError({ config: { connection: { maxConnections } } }, 'test/db', 'config.connection.maxConnections', String(maxConnections),
      /whole number from 10 to 10000/);
  });
});

describe('image and version', () => {
  test.each([[15], [14], [19]])('postgresVersion %p has no default image', (postgresVersion) => {
    expectError({ postgresVersion }, 'test/db', 'postgresVersion', String(postgresVersion), /the default image has PostgreSQL 16, 17, 18; pass `image`/);
  });

  test('postgresVersion that does not match the image is refused', () => {
    expectError({ postgresVersion: 17, image: PostgresImage.percona(16) }, 'test/db', 'postgresVersion', '17', /must match the image's PostgreSQL 16/);
  });

  test('a version the default image lacks works with an explicit image', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { postgresVersion: 15, image: PostgresImage.crunchy(15) })).not.toThrow();
  });

  test.each([
    ['registry.example.com/pg:latest', 'latest'],
    ['registry.example.com/pg', 'no tag'],
    ['registry.example.com:5000/pg', 'registry port, no tag'],
  ])('image %j (%s) is refused', (image) => {
    expectError({ image: PostgresImage.custom({ image, postgresVersion: 17 }) }, 'test/db', 'image', JSON.stringify(image),
      /must be pinned by a tag other than latest or by a sha256 digest/);
  });

  test('a malformed digest is not taken for a tag (refused as unpinned)', () => {
    // `pg@sha256:abc` is neither a tag nor a sha256 digest: Kubernetes reports InvalidImageName.
    const image = 'registry.example.com/pg@sha256:abc';
    expectError({ image: PostgresImage.custom({ image, postgresVersion: 17 }) }, 'test/db', 'image', JSON.stringify(image),
      /must be pinned by a tag other than latest or by a sha256 digest/);
  });

  test.each([
    ['registry.example.com:5000/pg:17.2-1'],
    [`registry.example.com/pg@sha256:${'a'.repeat(64)}`],
  ])('image %j is accepted', (image) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { image: PostgresImage.custom({ image, postgresVersion: 17 }) })).not.toThrow();
  });

  test('a custom image running as uid 0 is refused', () => {
    expectError({ image: PostgresImage.custom({ image: 'registry.example.com/pg:17.2', postgresVersion: 17, uid: 0 }) },
      'test/db', 'image', '"registry.example.com/pg:17.2"', /uid 0 must be a non-root uid/);
  });

  test('a custom image with gid 0, a relative binDir or Patroni 3 is refused', () => {
    const message = errorOf({
      image: PostgresImage.custom({ image: 'registry.example.com/pg:17.2', postgresVersion: 17, gid: 0, binDir: 'usr/bin', patroniMajorVersion: 3 }),
    });
    expect(message).toMatch(/^test\/db: invalid image = "registry.example.com\/pg:17.2": /);
    expect(message).toMatch(/gid 0 must be a non-root gid/);
    expect(message).toMatch(/binDir "usr\/bin" must be an absolute path/);
    expect(message).toMatch(/patroniMajorVersion 3 is not supported/);
  });

  test('a custom image whose binaries are relative or on a volume the pods write is refused', () => {
    const message = errorOf({
      image: PostgresImage.custom({
        image: 'registry.example.com/pg:17.2', postgresVersion: 17, patroniPath: 'patroni', pgbackrestPath: '/pgdata/bin/pgbackrest', python3Path: '/usr/../tmp/python3',
      }),
    });
    expect(message).toMatch(/^test\/db: invalid image = "registry.example.com\/pg:17.2": /);
    expect(message).toMatch(/patroniPath "patroni" must be an absolute path/);
    expect(message).toMatch(/pgbackrestPath "\/pgdata\/bin\/pgbackrest" is on a volume the pods can write/);
    expect(message).toMatch(/python3Path "\/usr\/..\/tmp\/python3" must be an absolute path without spaces, ':' or '..'/);
  });

  test('custom binary paths are what the pods run, and their directories are on the PATH', () => {
    const image = PostgresImage.custom({ image: 'registry.example.com/pg:17.2', postgresVersion: 17, binDir: '/usr/lib/postgresql/17/bin', patroniPath: '/opt/patroni/bin/patroni' });
    expect(image.searchPath).toBe('/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/patroni/bin');
    const m = synthCluster({ image });
    const pg = find(m, 'StatefulSet', 'db-primary').spec.template.spec.containers[0];
    // Under the reload wrapper (TLS is on by default), Patroni by its configured path.
    expect(pg.command.slice(pg.command.indexOf('--') + 1, -1)).toEqual(['/opt/patroni/bin/patroni']);
    expect(pg.env).toContainEqual({ name: 'PATH', value: image.searchPath });
  });

  test('the named profiles refuse versions they have no pinned image for', () => {
    expect(() => PostgresImage.percona(15)).toThrow(/PostgresImage.percona: no pinned image for PostgreSQL 15; supported: 16, 17, 18/);
    expect(() => PostgresImage.crunchy(14)).toThrow(/PostgresImage.crunchy: no pinned image for PostgreSQL 14/);
  });
});

describe('failoverTiming', () => {
  test('ttl 10 is refused', () => {
    expectError({ failoverTiming: timing(10, 2, 3) }, 'test/db', 'failoverTiming', '{"ttl":10,"loopWait":2,"retryTimeout":3}',
      /Patroni 4 refuses these timings: ttl must be at least 20 s \(got 10\)/);
  });

  test('loop_wait + 2 x retry_timeout above ttl is refused', () => {
    expectError({ failoverTiming: timing(20, 10, 10) }, 'test/db', 'failoverTiming', '{"ttl":20,"loopWait":10,"retryTimeout":10}',
      /loop_wait \+ 2 x retry_timeout must not exceed ttl \(10 \+ 2 x 10 > 20\)/);
  });

  test('loop_wait below 2 s and retry_timeout below 3 s are refused', () => {
    const message = errorOf({ failoverTiming: timing(30, 1, 2) });
    expect(message).toMatch(/^test\/db: invalid failoverTiming = \{"ttl":30,"loopWait":1,"retryTimeout":2\}: /);
    expect(message).toMatch(/loop_wait must be at least 2 s \(got 1\)/);
    expect(message).toMatch(/retry_timeout must be at least 3 s \(got 2\)/);
  });

  test('fractional seconds are refused (when the timing is built, naming the value)', () => {
    const props = (ttl: Duration, loopWait: Duration) => ({
      failoverTiming: FailoverTiming.of({ ttl, loopWait, retryTimeout: Duration.seconds(3) }),
    });
    expect(errorOf(props(Duration.millis(20500), Duration.seconds(2))))
      .toMatch(/^test\/db: invalid failoverTiming = .*ttl must be a whole number of seconds \(got 20\.5\)/);
    expect(errorOf(props(Duration.seconds(30), Duration.millis(2500))))
      .toMatch(/^test\/db: invalid failoverTiming = .*loop_wait must be a whole number of seconds \(got 2\.5\)/);
  });

  test('the boundary timings are accepted', () => {
    expect(FailoverTiming.FAST.violations()).toEqual([]);
    expect(FailoverTiming.DEFAULT.violations()).toEqual([]);
    expect(timing(20, 2, 9).violations()).toEqual([]);
    expect(() => new PostgresCluster(Testing.chart(), 'db', { failoverTiming: timing(20, 2, 9) })).not.toThrow();
  });
});

describe('resources', () => {
  const of = (o: { cpu?: kplus.Cpu; memory?: Size; cpuLimit?: kplus.Cpu; memoryLimit?: Size }) => Resources.of({
    cpu: o.cpu ?? kplus.Cpu.millis(500), memory: o.memory ?? gib(1), cpuLimit: o.cpuLimit, memoryLimit: o.memoryLimit,
  });

  test('memory request above the limit is refused', () => {
    expectError({ config: { resources: of({ memory: gib(2), memoryLimit: gib(1) }) } }, 'test/db/Primary', 'config.resources.memory', '"2Gi"',
      /must not exceed the memory limit \(1Gi\)/);
  });

  test('cpu request above the limit is refused', () => {
    expectError({ config: { resources: of({ cpu: kplus.Cpu.units(2), cpuLimit: kplus.Cpu.units(1) }) } }, 'test/db/Primary', 'config.resources.cpu', '"2"',
      /must not exceed the CPU limit \(1\)/);
  });

  test('memory limit below 256Mi is refused', () => {
    expectError({ config: { resources: of({ memory: mib(128) }) } }, 'test/db/Primary', 'config.resources.memoryLimit', '"128Mi"', /at least 256Mi/);
  });

  test('cpu limit below 100m is refused', () => {
    expectError({ config: { resources: of({ cpu: kplus.Cpu.millis(50) }) } }, 'test/db/Primary', 'config.resources.cpuLimit', '"50m"', /at least 100m/);
  });

  test('a replica-only override is checked and named as such', () => {
    expectError({ replicas: { resources: of({ memory: mib(200) }) } }, 'test/db/Replicas', 'replicas.resources.memoryLimit', '"200Mi"', /at least 256Mi/);
  });

  test('256Mi and 100m are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config: { resources: of({ memory: mib(256), cpu: kplus.Cpu.millis(100) }) } })).not.toThrow();
  });
});

describe('storage', () => {
  test('below 1Gi is refused', () => {
    expectError({ storage: { size: mib(512) } }, 'test/db/Primary', 'storage.size', '"512Mi"', /at least 1Gi/);
  });

  test('a replica-only size below 1Gi is refused', () => {
    expectError({ replicas: { storage: { size: mib(1000) } } }, 'test/db/Replicas', 'replicas.storage.size', '"1000Mi"', /at least 1Gi/);
  });

  test('exactly 1Gi is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { storage: { size: gib(1) } })).not.toThrow();
  });
});

describe('config.database', () => {
  test.each([
    ['My_DB', 'upper case'],
    ['1orders', 'leading digit'],
    ['order-db', 'dash'],
    ['', 'empty'],
    ['a'.repeat(64), 'longer than 63'],
  ])('name %j (%s) is refused', (name) => {
    expectError({ config: { database: { name } } }, 'test/db', 'config.database.name', JSON.stringify(name),
      /must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit/);
  });

  test.each([['a'.repeat(63)], ['_orders'], ['orders_2']])('name %j is accepted', (name) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config: { database: { name } } })).not.toThrow();
  });

  test.each([[80], [1023], [65536], [5432.5]])('port %p is out of range', (port) => {
    expectError({ config: { database: { port } } }, 'test/db', 'config.database.port', String(port), /must be a whole number from 1024 to 65535/);
  });

  test("port 8008 is Patroni's REST API port", () => {
    expectError({ config: { database: { port: 8008 } } }, 'test/db', 'config.database.port', '8008', /8008 is Patroni's REST API port/);
  });

  test.each([[1024], [65535], [6543]])('port %p is accepted', (port) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config: { database: { port } } })).not.toThrow();
  });

  test.each([[Duration.days(25), '2160000000ms'], [Duration.millis(0), '0ms']])('logStatementsSlowerThan %s is out of range', (d, shown) => {
    expectError({ config: { database: { logStatementsSlowerThan: d } } }, 'test/db', 'config.database.logStatementsSlowerThan', JSON.stringify(shown),
      /must be from 1 ms to 24 days/);
  });
});

describe('config.connection', () => {
  test('superuserReservedConnections equal to maxConnections is refused', () => {
    expectError({ config: { connection: { maxConnections: 10, superuserReservedConnections: 10 } } }, 'test/db',
      'config.connection.superuserReservedConnections', '10', /must be below maxConnections \(10\)/);
  });

  test('superuserReservedConnections above maxConnections is refused', () => {
    expectError({ config: { connection: { maxConnections: 20, superuserReservedConnections: 30 } } }, 'test/db',
      'config.connection.superuserReservedConnections', '30', /must be below maxConnections \(20\)/);
  });

  test.each([[0], [51], [2.5]])('superuserReservedConnections %p is out of range', (n) => {
    expectError({ config: { connection: { superuserReservedConnections: n } } }, 'test/db',
      'config.connection.superuserReservedConnections', String(n), /must be a whole number from 1 to 50/);
  });

  test.each([
    ['idle', Duration.millis(1500), '1500ms'],
    ['idle', Duration.hours(3), '10800000ms'],
    ['interval', Duration.millis(500), '500ms'],
    ['interval', Duration.seconds(7201), '7201000ms'],
  ] as const)('tcpKeepalives.%s %s is refused', (field, d, shown) => {
    expectError({ config: { connection: { tcpKeepalives: { [field]: d } } } }, 'test/db', `config.connection.tcpKeepalives.${field}`,
      JSON.stringify(shown), /must be a whole number of seconds from 1 to 7200/);
  });

  test.each([[0], [101], [2.5]])('tcpKeepalives.count %p is refused', (count) => {
    expectError({ config: { connection: { tcpKeepalives: { count } } } }, 'test/db', 'config.connection.tcpKeepalives.count', String(count),
      /must be a whole number from 1 to 100/);
  });

  test.each([[Duration.millis(1500), '1500ms'], [Duration.millis(500), '500ms'], [Duration.minutes(11), '660000ms']])(
    'connectTimeout %s is refused', (d, shown) => {
      expectError({ config: { connection: { connectTimeout: d } } }, 'test/db', 'config.connection.connectTimeout', JSON.stringify(shown),
        /must be a whole number of seconds from 1 to 600/);
    });

  test.each([
    ['statementTimeout', Duration.days(25), '2160000000ms'],
    ['statementTimeout', Duration.millis(0), '0ms'],
    ['idleInTransactionTimeout', Duration.days(30), '2592000000ms'],
    ['idleSessionTimeout', Duration.days(25), '2160000000ms'],
  ] as const)('%s %s is out of range', (field, d, shown) => {
    expectError({ config: { connection: { [field]: d } } }, 'test/db', `config.connection.${field}`, JSON.stringify(shown),
      /must be from 1 ms to 24 days/);
  });

  test('the boundary durations are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      config: {
        connection: {
          connectTimeout: Duration.seconds(600),
          statementTimeout: Duration.millis(2 ** 31 - 1),
          idleSessionTimeout: Duration.millis(1),
          tcpKeepalives: { idle: Duration.seconds(7200), interval: Duration.seconds(1), count: 100 },
        },
      },
    })).not.toThrow();
  });

  test.each([['10.0.0.0'], ['10.0.0.300/8'], ['10.0.0.0/33'], ['fd00::/129'], ['example.com/8'], ['']])('hba rule address %j is refused', (address) => {
    expectError({ config: { connection: { hbaRules: [{ database: 'all', user: 'all', address, method: ClientAuthMethod.REJECT }] } } },
      'test/db', 'config.connection.hbaRules[0].address', JSON.stringify(address), /must be a CIDR address such as 10.0.0.0\/8 or fd00::\/8/);
  });

  test.each([['user', 'bad user'], ['user', ''], ['database', 'app;drop'], ['database', 'a b']] as const)('hba rule %s %j is refused', (field, v) => {
    const rules = [
      { database: 'all', user: 'all', address: '10.0.0.0/8', method: ClientAuthMethod.SCRAM_SHA_256 },
      { database: 'all', user: 'all', address: '10.1.0.0/16', method: ClientAuthMethod.REJECT, [field]: v },
    ];
    expectError({ config: { connection: { hbaRules: rules } } }, 'test/db', `config.connection.hbaRules[1].${field}`, JSON.stringify(v),
      /must be names, `all` or `\+group`, comma-separated, without spaces/);
  });

  test('valid hba rules are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      config: {
        connection: {
          hbaRules: [
            { database: 'app,reports', user: '+readers', address: '10.0.0.0/8', method: ClientAuthMethod.SCRAM_SHA_256 },
            { database: 'all', user: 'all', address: 'fd00::/8', method: ClientAuthMethod.REJECT },
          ],
        },
      },
    })).not.toThrow();
  });
});

describe('config.replication', () => {
  test('synchronous mode with replicas 0 is refused even with delayed replicas', () => {
    expectError({
      replicas: { count: 0 },
      delayedReplicas: { applyDelay: Duration.hours(1) },
      config: { replication: { mode: ReplicationMode.SYNCHRONOUS } },
    },
    'test/db', 'config.replication.mode', '"synchronous"', /needs at least one replica/);
  });

  test('delayed replicas do not count as synchronous standbys', () => {
    expectError({
      replicas: { count: 1 },
      delayedReplicas: { count: 2, applyDelay: Duration.hours(1) },
      config: { replication: { mode: ReplicationMode.SYNCHRONOUS, synchronousStandbys: 2 } },
    }, 'test/db', 'config.replication.synchronousStandbys', '2', /whole number from 1 to 1/);
  });

  test('WAL bounds above 80 % of the volume are refused (maxSlotWalKeepSize)', () => {
    expectError({ config: { replication: { maxSlotWalKeepSize: gib(8) } } }, 'test/db/Primary', 'storage.size', '"10Gi"',
      /WAL could fill the volume: max_wal_size 1280Mi \+ maxSlotWalKeepSize 8Gi \+ walKeepSize 512Mi must stay within 80 % of it/);
  });

  test('WAL bounds above 80 % of the volume are refused (walKeepSize)', () => {
    expectError({ config: { replication: { walKeepSize: gib(7) } } }, 'test/db/Primary', 'storage.size', '"10Gi"',
      /max_wal_size 1280Mi \+ maxSlotWalKeepSize 2560Mi \+ walKeepSize 7Gi must stay within 80 % of it/);
  });

  test('WAL bounds are checked against each node set\'s own volume', () => {
    expectError({ replicas: { storage: { size: gib(1) } }, config: { replication: { maxSlotWalKeepSize: gib(1) } } },
      'test/db/Replicas', 'replicas.storage.size', '"1Gi"', /WAL could fill the volume: max_wal_size 256Mi \+ maxSlotWalKeepSize 1Gi \+ walKeepSize 64Mi/);
  });

  test('a raw max_wal_size obeys the same 80 % bound as the derived one', () => {
    expectError({ config: { parameters: { max_wal_size: '100GB' } } }, 'test/db/Primary', 'config.parameters.max_wal_size', '"100GB"',
      /WAL could fill the volume: max_wal_size 100GB \+ maxSlotWalKeepSize 2560Mi \+ walKeepSize 512Mi must stay within 80 % of storage.size 10Gi/);
    // A bare number is MB, as PostgreSQL reads it.
    expectError({ config: { parameters: { max_wal_size: '8000' } } }, 'test/db/Primary', 'config.parameters.max_wal_size', '"8000"', /must stay within 80 %/);
    expectError({ config: { parameters: { max_wal_size: 'lots' } } }, 'test/db/Primary', 'config.parameters.max_wal_size', '"lots"', /must be a size such as 1024MB/);
  });

  test('a raw max_wal_size within the bound is written as given', () => {
    const cfg = synthCluster({ config: { parameters: { max_wal_size: '2GB' } } });
    expect(JSON.stringify(cfg)).toContain('max_wal_size: 2GB');
  });

  test('WAL bounds of exactly 80 % are accepted', () => {
    // 10Gi: 1280Mi + 6144Mi + 768Mi = 8192Mi = 80 %
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      config: { replication: { maxSlotWalKeepSize: mib(6144), walKeepSize: mib(768) } },
    })).not.toThrow();
  });
});

describe('config.sharedMemory', () => {
  test('hugePages ON without hugePagesLimit is refused', () => {
    expectError({ config: { sharedMemory: { hugePages: HugePages.ON } } }, 'test/db', 'config.sharedMemory.hugePages', '"on"',
      /needs config.sharedMemory.hugePagesLimit, so the pod is granted huge pages/);
  });

  test.each([[undefined], [HugePages.OFF]])('hugePagesLimit with hugePages %p is refused', (hugePages) => {
    expectError({ config: { sharedMemory: { hugePages, hugePagesLimit: mib(256) } } }, 'test/db', 'config.sharedMemory.hugePagesLimit', '"256Mi"',
      /only applies with HugePages.ON/);
  });

  test.each([[mib(257), '257Mi'], [Size.kibibytes(300 * 1024 + 512), '307712Ki']])('hugePagesLimit %s not a multiple of 2Mi is refused', (limit, shown) => {
    expectError({ config: { sharedMemory: { hugePages: HugePages.ON, hugePagesLimit: limit } } }, 'test/db', 'config.sharedMemory.hugePagesLimit',
      JSON.stringify(shown), /must be a multiple of 2Mi/);
  });

  test('hugePagesLimit below shared_buffers + 10 % is refused', () => {
    // Resources.SMALL: shared_buffers 128Mi, needs 140.8Mi
    expectError({ config: { sharedMemory: { hugePages: HugePages.ON, hugePagesLimit: mib(140) } } }, 'test/db/Config',
      'config.sharedMemory.hugePagesLimit', '"140Mi"', /must hold shared_buffers \(128Mi\) plus 10 %/);
  });

  test('hugePagesLimit is checked against an explicit sharedBuffers', () => {
    expectError({ config: { sharedMemory: { sharedBuffers: mib(256), hugePages: HugePages.ON, hugePagesLimit: mib(256) } } }, 'test/db/Config',
      'config.sharedMemory.hugePagesLimit', '"256Mi"', /must hold shared_buffers \(256Mi\) plus 10 %/);
  });

  test('hugePagesLimit of shared_buffers + 10 % rounded up to 2Mi is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config: { sharedMemory: { hugePages: HugePages.ON, hugePagesLimit: mib(142) } } })).not.toThrow();
  });

  test('sharedBuffers below 16Mi is refused', () => {
    expectError({ config: { sharedMemory: { sharedBuffers: mib(8) } } }, 'test/db/Config', 'config.sharedMemory.sharedBuffers', '"8Mi"', /must be at least 16Mi/);
  });

  test('devShmSize below 16Mi is refused', () => {
    expectError({ config: { sharedMemory: { devShmSize: mib(8) } } }, 'test/db/Config', 'config.sharedMemory.devShmSize', '"8Mi"', /must be at least 16Mi/);
  });

  test('/dev/shm too small for the parallel workers is refused, with the arithmetic', () => {
    expectError({
      config: {
        resources: Resources.of({ cpu: kplus.Cpu.units(8), memory: gib(16) }),
        sharedMemory: { devShmSize: mib(16) },
        parameters: { work_mem: '64MB' },
      },
    }, 'test/db/Primary', 'config.sharedMemory.devShmSize', '"16Mi"',
    /\/dev\/shm must hold what parallel query needs: \(max_parallel_workers 8 \+ 1\) x work_mem \+ 16Mi = 592Mi/);
  });

  test('a raw max_parallel_workers is used for the /dev/shm check', () => {
    const config = { sharedMemory: { devShmSize: mib(32) }, parameters: { work_mem: '2MB' } };
    // Resources.SMALL: 1 parallel worker, (1 + 1) x 2Mi + 16Mi = 20Mi fits
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config })).not.toThrow();
    expectError({ config: { ...config, parameters: { ...config.parameters, max_parallel_workers: '8' } } },
      'test/db/Primary', 'config.sharedMemory.devShmSize', '"32Mi"', /\(max_parallel_workers 8 \+ 1\) x work_mem \+ 16Mi = 34Mi/);
  });
});

describe('memory budget', () => {
  test('maxConnections 1000 on 256Mi does not fit; the message has the breakdown', () => {
    expectError({ config: { resources: Resources.of({ cpu: kplus.Cpu.millis(250), memory: mib(256) }), connection: { maxConnections: 1000 } } },
      'test/db/Primary', 'config.resources.memoryLimit', '"256Mi"',
      new RegExp(escape('the worst case does not fit (shared_buffers 32Mi + /dev/shm 64Mi + max_connections 1000 x work_mem 1Mi'
        + ' + maintenance_work_mem 16Mi + 3 x autovacuum_work_mem 8Mi = 1136Mi): raise the memory limit or lower maxConnections, work_mem or shared_buffers')));
  });

  test('a raw work_mem counts in the budget', () => {
    expectError({ config: { parameters: { work_mem: '64MB' } } }, 'test/db/Primary', 'config.resources.memoryLimit', '"1Gi"',
      /max_connections 100 x work_mem 64Mi/);
  });

  test('a raw maintenance_work_mem counts in the budget', () => {
    expectError({ config: { parameters: { maintenance_work_mem: '1GB' } } }, 'test/db/Primary', 'config.resources.memoryLimit', '"1Gi"',
      /maintenance_work_mem 1024Mi/);
  });

  test('an explicit sharedBuffers counts in the budget', () => {
    expectError({ config: { sharedMemory: { sharedBuffers: mib(768) } } }, 'test/db/Primary', 'config.resources.memoryLimit', '"1Gi"',
      /shared_buffers 768Mi \+ \/dev\/shm 128Mi/);
  });

  test('shared_buffers on huge pages is not charged to the memory limit', () => {
    const props = (hugePages: boolean) => ({
      config: {
        resources: Resources.of({ cpu: kplus.Cpu.millis(500), memory: mib(512) }),
        sharedMemory: hugePages ? { sharedBuffers: mib(300), hugePages: HugePages.ON, hugePagesLimit: mib(330) } : { sharedBuffers: mib(300) },
      },
    });
    expect(errorOf(props(false))).toMatch(/^test\/db\/Primary: invalid config.resources.memoryLimit = "512Mi": the worst case does not fit/);
    expect(() => new PostgresCluster(Testing.chart(), 'db', props(true))).not.toThrow();
  });

  test('replica and delayed replica resources are checked and named as such', () => {
    const tiny = Resources.of({ cpu: kplus.Cpu.millis(250), memory: mib(256) });
    const config = { connection: { maxConnections: 1000 } };
    const big = Resources.of({ cpu: kplus.Cpu.units(1), memory: gib(4) });
    expectError({ primary: { resources: big }, replicas: { resources: tiny }, config: { ...config, resources: big } },
      'test/db/Replicas', 'replicas.resources.memoryLimit', '"256Mi"', /the worst case does not fit/);
    expectError({ config: { ...config, resources: big }, delayedReplicas: { applyDelay: Duration.hours(1), resources: tiny } },
      'test/db/DelayedReplicas', 'delayedReplicas.resources.memoryLimit', '"256Mi"', /the worst case does not fit/);
  });
});

describe('config.parameters', () => {
  test.each([['Work_Mem'], ['work-mem'], ['1param'], ['a.b.c'], ['work mem']])('name %j is not a parameter name', (name) => {
    expectError({ config: { parameters: { [name]: '1MB' } } }, 'test/db', `config.parameters.${name}`, '"1MB"', /is not a PostgreSQL parameter name/);
  });

  test.each([
    'listen_addresses', 'port', 'archive_command', 'restore_command', 'ssl_cert_file', 'unix_socket_directories', 'hot_standby',
    'primary_conninfo', 'synchronous_standby_names', 'max_connections', 'shared_buffers', 'wal_level', 'recovery_min_apply_delay',
  ])('owned %s is refused, naming the setting to use', (name) => {
    expectError({ config: { parameters: { [name]: 'x' } } }, 'test/db', `config.parameters.${name}`, '"x"',
      new RegExp(`is set by ${escape(OWNED_PARAMETERS[name])}, not as a raw parameter`));
  });

  test('the owned-parameter message names the typed setting', () => {
    expect(errorOf({ config: { parameters: { port: '5433' } } }))
      .toBe('test/db: invalid config.parameters.port = "5433": is set by config.database.port, not as a raw parameter');
    expect(errorOf({ config: { parameters: { synchronous_standby_names: '*' } } })).toMatch(/is set by Patroni \(config.replication.mode\)/);
  });

  test('a multi-line value is refused', () => {
    expectError({ config: { parameters: { shared_preload_libraries: 'pg_stat_statements\nauto_explain' } } }, 'test/db',
      'config.parameters.shared_preload_libraries', JSON.stringify('pg_stat_statements\nauto_explain'), /must be a single-line string/);
  });

  test('a non-string value is refused', () => {
    expectError({ config: { parameters: { jit: 1 as unknown as string } } }, 'test/db', 'config.parameters.jit', '1', /must be a single-line string/);
  });

  test.each([['work_mem', 'lots'], ['work_mem', '8Mi'], ['maintenance_work_mem', '1.5GB'], ['autovacuum_work_mem', '-1']])(
    '%s %j is not a memory size', (name, value) => {
      expectError({ config: { parameters: { [name]: value } } }, 'test/db/Config', `config.parameters.${name}`, JSON.stringify(value),
        /must be a memory size such as 4MB, 512kB or 1GB/);
    });

  test('raw parameters the library does not own are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      config: { parameters: { 'work_mem': '4MB', 'shared_preload_libraries': 'pg_stat_statements', 'pg_stat_statements.track': 'top' } },
    })).not.toThrow();
  });
});

describe('delayedReplicas', () => {
  test.each([[Duration.millis(1500), '1500ms'], [Duration.seconds(0), '0ms'], [Duration.days(8), '691200000ms']])(
    'applyDelay %s is refused', (applyDelay, shown) => {
      expectError({ delayedReplicas: { applyDelay } }, 'test/db/DelayedReplicas', 'delayedReplicas.applyDelay', JSON.stringify(shown),
        /must be a whole number of seconds from 1 s to 7 days/);
    });

  test('delayed replicas without replication slots are refused', () => {
    expectError({ delayedReplicas: { applyDelay: Duration.hours(1) }, config: { replication: { slots: false } } }, 'test/db',
      'config.replication.slots', 'false', /delayed replicas need replication slots/);
  });

  test('slots false without delayed replicas is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config: { replication: { slots: false } } })).not.toThrow();
  });

  test.each([[10, 3, 2], [12, 1, 0], [2, 11, 10]])('replicas %p + delayed %p above 12 is refused', (count, delayed, max) => {
    expectError({ replicas: { count }, delayedReplicas: { count: delayed, applyDelay: Duration.hours(1) } }, 'test/db', 'delayedReplicas.count',
      String(delayed), new RegExp(`whole number from 1 to ${max}`));
  });

  test.each([[0], [1.5]])('delayed count %p is refused', (count) => {
    expectError({ delayedReplicas: { count, applyDelay: Duration.hours(1) } }, 'test/db', 'delayedReplicas.count', String(count), /whole number from 1 to 10/);
  });

  test('replicas + delayed replicas = 12 is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { replicas: { count: 9 }, delayedReplicas: { count: 3, applyDelay: Duration.hours(1) } })).not.toThrow();
  });

  test('a delayed-only storage size is checked and named as such', () => {
    expectError({ delayedReplicas: { applyDelay: Duration.hours(1), storage: { size: mib(512) } } }, 'test/db/DelayedReplicas',
      'delayedReplicas.storage.size', '"512Mi"', /at least 1Gi/);
  });
});

describe('sidecars', () => {
  const resources = Resources.of({ cpu: kplus.Cpu.millis(50), memory: mib(64) });
  const sidecar = (overrides: Partial<SidecarOptions> = {}): SidecarOptions => ({
    name: 'shipper', image: 'docker.io/fluent/fluent-bit:3.1.9', resources, ...overrides,
  });

  /** The message addSidecar() throws on a fresh `test/db` (fails the test if it does not throw). */
  function addError(...sidecars: SidecarOptions[]): string {
    const cluster = new PostgresCluster(Testing.chart(), 'db');
    try {
      for (const s of sidecars) cluster.addSidecar(s);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`expected addSidecar(${JSON.stringify(sidecars.map((s) => s.name))}) to throw`);
  }

  function expectAddError(sidecars: SidecarOptions[], property: string, value: string, rule: RegExp): void {
    const message = addError(...sidecars);
    expect(message).toMatch(new RegExp(`^test/db: invalid ${escape(property)} = ${escape(value)}: `));
    expect(message).toMatch(rule);
    // the same rule applies to the sidecars prop
    expectError({ sidecars }, 'test/db', property, value, rule);
  }

  test.each([['postgres'], ['heartbeat'], ['metrics'], ['wait-for-leader']])('the reserved name %p is refused', (name) => {
    expectAddError([sidecar({ name })], `sidecars[${name}].name`, JSON.stringify(name),
      /is already a container of the member pods \(postgres, heartbeat, metrics, wait-for-leader\)/);
  });

  test('a duplicate name is refused and the existing sidecars are listed', () => {
    expectAddError([sidecar(), sidecar()], 'sidecars[shipper].name', '"shipper"', /is already a container of the member pods \(.*wait-for-leader, shipper\)/);
  });

  test.each([['Shipper'], ['log_shipper'], ['-shipper'], ['shipper-'], ['a.b'], [''], ['a'.repeat(64)]])('the name %p is not a DNS label', (name) => {
    expectAddError([sidecar({ name })], `sidecars[${name}].name`, JSON.stringify(name), /at most 63 characters .*RFC 1123 DNS label/);
  });

  test('a 63-character name is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { sidecars: [sidecar({ name: 'a'.repeat(63) })] })).not.toThrow();
  });

  test.each([
    ['docker.io/fluent/fluent-bit:latest'],
    ['docker.io/fluent/fluent-bit'],
    ['fluent-bit'],
    ['registry.example.com:5000/fluent-bit'],
    ['docker.io/fluent/fluent-bit@sha256:abc'],
  ])('the unpinned image %p is refused', (image) => {
    expectAddError([sidecar({ image })], 'sidecars[shipper].image', JSON.stringify(image),
      /must be pinned by a tag other than latest or by a sha256 digest/);
  });

  test.each([['registry.example.com:5000/team/agent:1.2.3'], [`docker.io/fluent/fluent-bit@sha256:${'0'.repeat(64)}`]])('the pinned image %p is accepted', (image) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { sidecars: [sidecar({ image })] })).not.toThrow();
  });

  test('a CPU request above the limit is refused', () => {
    expectAddError([sidecar({ resources: Resources.of({ cpu: kplus.Cpu.millis(500), cpuLimit: kplus.Cpu.millis(200), memory: mib(64) }) })],
      'sidecars[shipper].resources.cpu', '"500m"', /must not exceed the CPU limit \(200m\)/);
  });

  test('a memory request above the limit is refused', () => {
    expectAddError([sidecar({ resources: Resources.of({ cpu: kplus.Cpu.millis(50), memory: mib(256), memoryLimit: mib(128) }) })],
      'sidecars[shipper].resources.memory', '"256Mi"', /must not exceed the memory limit \(128Mi\)/);
  });

  test('requests equal to limits are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      sidecars: [sidecar({
        resources: Resources.of({ cpu: kplus.Cpu.millis(100), cpuLimit: kplus.Cpu.millis(100), memory: mib(64), memoryLimit: mib(64) }),
      })],
    })).not.toThrow();
  });

  test.each([[5432], [8008], [8010], [9187]])('the taken port %p is refused', (port) => {
    expectAddError([sidecar({ ports: { http: port } })], 'sidecars[shipper].ports.http', String(port),
      /must be a free port from 1 to 65535 \(taken: 5432, 8008, 8010, 9187\)/);
  });

  test('the PostgreSQL port is taken wherever it is configured', () => {
    expectError({ config: { database: { port: 6543 } }, sidecars: [sidecar({ ports: { http: 6543 } })] }, 'test/db', 'sidecars[shipper].ports.http', '6543',
      /taken: 6543, 8008, 8010, 9187/);
    expect(() => new PostgresCluster(Testing.chart(), 'db', { config: { database: { port: 6543 } }, sidecars: [sidecar({ ports: { http: 5432 } })] })).not.toThrow();
  });

  test.each([[0], [65536], [-1], [80.5]])('the port %p is out of range', (port) => {
    expectAddError([sidecar({ ports: { http: port } })], 'sidecars[shipper].ports.http', String(port), /must be a free port from 1 to 65535/);
  });

  test.each([[1], [65535], [9100]])('the port %p is accepted', (port) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { sidecars: [sidecar({ ports: { http: port } })] })).not.toThrow();
  });

  test('a refused sidecar is not added', () => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'db');
    expect(() => cluster.addSidecar(sidecar({ image: 'x:latest' }))).toThrow();
    const names = Testing.synth(chart).filter((m) => m.kind === 'StatefulSet').flatMap((m) => m.spec.template.spec.containers.map((c: any) => c.name));
    expect(names).not.toContain('shipper');
  });
});

describe('monitoring.heartbeat', () => {
  const hb = (heartbeat: HeartbeatOptions): PostgresClusterProps => ({ monitoring: { heartbeat } });

  test.each([
    ['interval', Duration.millis(1500), '"1500ms"', 'from 1 to 300'],
    ['interval', Duration.millis(500), '"500ms"', 'from 1 to 300'],
    ['interval', Duration.seconds(301), '"301000ms"', 'from 1 to 300'],
    ['interval', Duration.seconds(0), '"0ms"', 'from 1 to 300'],
    ['timeout', Duration.millis(2500), '"2500ms"', 'from 1 to 300'],
    ['timeout', Duration.seconds(0), '"0ms"', 'from 1 to 300'],
    ['maxLagTime', Duration.millis(30500), '"30500ms"', 'from 1 to 86400'],
    ['maxLagTime', Duration.days(2), '"172800000ms"', 'from 1 to 86400'],
  ] as const)('%s %p is refused', (prop, value, shown, range) => {
    expectError(hb({ [prop]: value }), 'test/db', `monitoring.heartbeat.${prop}`, shown, new RegExp(`must be a whole number of seconds ${range}`));
  });

  test('a timeout above the interval is refused', () => {
    expectError(hb({ interval: Duration.seconds(5), timeout: Duration.seconds(6) }), 'test/db', 'monitoring.heartbeat.timeout', '"6s"',
      /must not exceed the interval \(5s\)/);
    expectError(hb({ interval: Duration.seconds(2) }), 'test/db', 'monitoring.heartbeat.timeout', '"3s"', /must not exceed the interval \(2s\)/);
  });

  test('a timeout equal to the interval is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', hb({ interval: Duration.seconds(3), timeout: Duration.seconds(3) }))).not.toThrow();
  });

  test('maxLag below 64Ki is refused', () => {
    expectError(hb({ maxLag: Size.kibibytes(63) }), 'test/db', 'monitoring.heartbeat.maxLag', '"63Ki"', /must be at least 64Ki/);
    expect(() => new PostgresCluster(Testing.chart(), 'db', hb({ maxLag: Size.kibibytes(64) }))).not.toThrow();
  });

  test('maxLagTime not above the interval is refused', () => {
    expectError(hb({ interval: Duration.seconds(30), timeout: Duration.seconds(3) }), 'test/db', 'monitoring.heartbeat.maxLagTime', '"30s"',
      /must exceed the interval \(30s\): the heartbeat is written once per interval/);
    expectError(hb({ interval: Duration.seconds(10), maxLagTime: Duration.seconds(5) }), 'test/db', 'monitoring.heartbeat.maxLagTime', '"5s"',
      /must exceed the interval \(10s\)/);
    expect(() => new PostgresCluster(Testing.chart(), 'db', hb({ interval: Duration.seconds(30), maxLagTime: Duration.seconds(31) }))).not.toThrow();
  });

  test.each([[0], [101], [1.5], [-1]])('failureThreshold %p is refused', (failureThreshold) => {
    expectError(hb({ failureThreshold }), 'test/db', 'monitoring.heartbeat.failureThreshold', String(failureThreshold), /must be a whole number from 1 to 100/);
  });

  test.each([[1], [100]])('failureThreshold %p is accepted', (failureThreshold) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', hb({ failureThreshold }))).not.toThrow();
  });
});

describe('monitoring.metrics', () => {
  test.each([
    ['quay.io/prometheuscommunity/postgres-exporter:latest'],
    ['quay.io/prometheuscommunity/postgres-exporter'],
    ['postgres-exporter'],
  ])('the unpinned exporter image %p is refused', (image) => {
    expectError({ monitoring: { metrics: { image } } }, 'test/db', 'monitoring.metrics.image', JSON.stringify(image),
      /must be pinned by a tag other than latest or by a sha256 digest/);
  });

  test('an unpinned image is not checked when the exporter is disabled', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { monitoring: { metrics: { enabled: false, image: 'x:latest' } } })).not.toThrow();
  });

  test('a PodMonitor without the exporter is refused', () => {
    expectError({ monitoring: { metrics: { enabled: false, podMonitor: true } } }, 'test/db', 'monitoring.metrics.podMonitor', 'true',
      /needs the exporter \(monitoring.metrics.enabled is false\)/);
  });

  test('alert rules without the exporter are refused', () => {
    expectError({ monitoring: { metrics: { enabled: false, alertRules: true } } }, 'test/db', 'monitoring.metrics.alertRules', 'true',
      /needs the exporter \(monitoring.metrics.enabled is false\): the rules read its metrics/);
  });

  test('a Grafana dashboard without the exporter is refused', () => {
    expectError({ monitoring: { metrics: { enabled: false, grafanaDashboard: true } } }, 'test/db', 'monitoring.metrics.grafanaDashboard', 'true',
      /needs the exporter \(monitoring.metrics.enabled is false\): the panels read its metrics/);
  });

  test('a scrape interval that is not whole seconds is refused without a PodMonitor too (the rules use it)', () => {
    expectError({ monitoring: { metrics: { scrapeInterval: Duration.millis(1500) } } }, 'test/db', 'monitoring.metrics.scrapeInterval', '"1500ms"',
      /must be a whole number of seconds, at least 1 s/);
  });
});

describe('users', () => {
  /** The message addUser() throws on a fresh `test/db` after `setup` (fails the test if it does not throw). */
  function addUserError(props: PostgresClusterProps, user: UserOptions): string {
    const cluster = new PostgresCluster(Testing.chart(), 'db', props);
    try {
      cluster.addUser(user);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`expected addUser(${JSON.stringify(user)}) to throw`);
  }

  /** The rule holds for the `users` prop and for addUser() after construction alike. */
  function expectUserError(
    user: UserOptions, property: string, value: string, rule: RegExp, props: PostgresClusterProps = {}, before: UserOptions[] = [],
  ): void {
    expectError({ ...props, users: [...before, user] }, 'test/db', property, value, rule);
    const message = addUserError({ ...props, users: before }, user);
    expect(message).toMatch(new RegExp(`^test/db: invalid ${escape(property)} = ${escape(value)}: `));
    expect(message).toMatch(rule);
  }

  test.each([
    ['Orders', 'upper case'],
    ['1orders', 'leading digit'],
    ['orders-app', 'dash'],
    ['', 'empty'],
    ['a'.repeat(64), '64 characters'],
    ['orders app', 'space'],
  ])('%j (%s) is not an identifier', (name) => {
    expectUserError({ name }, `users[${name}].name`, JSON.stringify(name), /must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit/);
  });

  test('63 characters and a leading underscore are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { users: [{ name: 'a'.repeat(63) }, { name: '_app' }] })).not.toThrow();
  });

  test.each(['postgres', 'replicator', 'cdk8s_monitor', 'cdk8s_pgbouncer', 'public', 'pg_monitor', 'pg_anything'])('the reserved role %s is refused', (name) => {
    expectUserError({ name }, `users[${name}].name`, JSON.stringify(name), /is reserved \(postgres, replicator, cdk8s_monitor, cdk8s_pgbouncer, cdk8s_rewind, cdk8s_access, public, pg_\*\)/);
  });

  test('a user declared twice is refused (props, props then addUser)', () => {
    expectUserError({ name: 'app' }, 'users[app].name', '"app"', /is declared twice/, {}, [{ name: 'app', login: false }]);
  });

  test.each([[-2], [1.5], [100001]])('connectionLimit %p is refused', (connectionLimit) => {
    expectUserError({ name: 'app', connectionLimit }, 'users[app].connectionLimit', String(connectionLimit), /must be a whole number from -1 to 100000/);
  });

  test.each([[-1], [0], [100000]])('connectionLimit %p is accepted', (connectionLimit) => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { users: [{ name: 'app', connectionLimit }] })).not.toThrow();
  });

  // Secret-name collisions: user Secrets are `<cluster>-user-<name with _ turned into ->`. Two
  // identifiers never map to the same name, so the collision that can happen is with a Secret the
  // cluster already uses.
  test('a user whose Secret would be a Secret the cluster already uses (the user-supplied superuser Secret) is refused', () => {
    const chart = Testing.chart();
    let message = '';
    try {
      new PostgresCluster(chart, 'db', { superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'db-user-admin'), users: [{ name: 'admin' }] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^test\/db: invalid users\[admin\]\.name = "admin": .*db-user-admin/);
  });

  // `app_` would give the Secret name `db-user-app-`, not a valid object name.
  test('a user name ending in _ is refused: its Secret name would end in "-", which Kubernetes rejects', () => {
    expect(errorOf({ users: [{ name: 'app_' }] })).toMatch(/^test\/db: invalid users\[app_\]\.name = "app_": /);
  });

  test('memberOf a role that is not declared before it is refused', () => {
    expectUserError({ name: 'app', memberOf: ['nobody'] }, 'users[app].memberOf', '"nobody"', /must be a user declared before it/);
  });

  test('memberOf the superuser is refused (it would make the user a superuser in all but name)', () => {
    expect(errorOf({ users: [{ name: 'app', memberOf: ['postgres'] }] })).toMatch(/^test\/db: invalid users\[app\]\.memberOf = "postgres": /);
  });

  test('a grant on a database that is not declared is refused', () => {
    expectUserError({ name: 'app', databases: [{ database: 'nowhere' }] }, 'users[app].databases[0]', '"nowhere"', /is not a declared database/);
  });

  test('grants on the application database, postgres and a declared database are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      databases: [{ name: 'orders' }],
      users: [{ name: 'app', databases: [{ database: 'app' }, { database: 'postgres' }, { database: 'orders' }], schemas: [{ database: 'orders' }] }],
    })).not.toThrow();
  });
});

describe('databases', () => {
  function addDatabaseError(db: DatabaseOptions, props: PostgresClusterProps = {}): string {
    const cluster = new PostgresCluster(Testing.chart(), 'db', props);
    try {
      cluster.addDatabase(db);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`expected addDatabase(${JSON.stringify(db)}) to throw`);
  }

  test.each([['Orders'], ['1db'], ['orders-db'], [''], ['d'.repeat(64)]])('%j is not an identifier', (name) => {
    expectError({ databases: [{ name }] }, 'test/db', `databases[${name}].name`, JSON.stringify(name), /must be 1 to 63 lower-case letters, digits or underscores/);
    expect(addDatabaseError({ name })).toMatch(new RegExp(`^test/db: invalid ${escape(`databases[${name}].name`)} = `));
  });

  test.each([['postgres'], ['template0'], ['template1']])('the built-in database %s is refused', (name) => {
    expectError({ databases: [{ name }] }, 'test/db', `databases[${name}].name`, JSON.stringify(name), /is already declared or is a built-in database/);
  });

  test('a database declared twice is refused (props, then addDatabase)', () => {
    expectError({ databases: [{ name: 'orders' }, { name: 'orders' }] }, 'test/db', 'databases[orders].name', '"orders"', /is already declared/);
    expect(addDatabaseError({ name: 'orders' }, { databases: [{ name: 'orders' }] })).toMatch(/^test\/db: invalid databases\[orders\]\.name = "orders": is already declared/);
  });

  test('an extension that is not an identifier is refused, naming its index', () => {
    expectError({ databases: [{ name: 'orders', extensions: ['pgcrypto', 'bad-ext'] }] }, 'test/db', 'databases[orders].extensions[1]', '"bad-ext"',
      /must be 1 to 63 lower-case letters/);
  });

  // Issue requirement: "databases owned by unknown roles" are refused. The owner must be
  // 'postgres' or a declared user.
  test('a database owned by an unknown role is refused (issue requirement)', () => {
    expectError({ databases: [{ name: 'orders', owner: 'nobody' }] }, 'test/db', 'databases[orders].owner', '"nobody"', /must be a user declared before the database/);
    expect(addDatabaseError({ name: 'orders', owner: 'nobody' })).toMatch(/^test\/db: invalid databases\[orders\]\.owner = "nobody": /);
  });

  test('a database owned by a reserved role other than postgres is refused', () => {
    expectError({ databases: [{ name: 'orders', owner: 'replicator' }] }, 'test/db', 'databases[orders].owner', '"replicator"', /must be a user declared before the database/);
  });

  test('owned by the access role (the default), by a user of the props, or by a user added before addDatabase(): accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      users: [{ name: 'orders_owner', login: false }],
      databases: [{ name: 'orders', owner: 'orders_owner' }, { name: 'plain' }, { name: 'explicit', owner: 'cdk8s_access' }],
    })).not.toThrow();
    expect(() => new PostgresCluster(Testing.chart(), 'db', {
      databases: [{ name: 'explicit', owner: 'postgres' }], config: { connection: { superuserNetworkAccess: true } },
    })).not.toThrow();
    const cluster = new PostgresCluster(Testing.chart(), 'db');
    cluster.addUser({ name: 'late_owner' });
    expect(() => cluster.addDatabase({ name: 'late', owner: 'late_owner' })).not.toThrow();
  });
});

test('a database owned by postgres needs the superuser over the network (the access Job creates it as cdk8s_access otherwise)', () => {
  expectError({ databases: [{ name: 'orders', owner: 'postgres' }] }, 'test/db', 'databases[orders].owner', '"postgres"',
    /needs the access Job to run as the superuser \(config\.connection\.superuserNetworkAccess: true\); leave it out to have cdk8s_access own it, or name a declared user/);
});

describe('pooler', () => {
  test.each([[0], [101], [1.5]])('instances %p is refused', (instances) => {
    expectError({ pooler: { instances } }, 'test/db', 'pooler.instances', String(instances), /must be a whole number from 1 to 100/);
  });

  test.each([[0], [10001], [2.5]])('defaultPoolSize %p is refused', (defaultPoolSize) => {
    expectError({ pooler: { defaultPoolSize, instances: 1 } }, 'test/db', 'pooler.defaultPoolSize',
      String(defaultPoolSize), /must be a whole number from 1 to 10000/);
  });

  test.each([[0], [100001], [10.5]])('maxClientConnections %p is refused', (maxClientConnections) => {
    expectError({ pooler: { maxClientConnections } }, 'test/db', 'pooler.maxClientConnections', String(maxClientConnections), /must be a whole number from 1 to 100000/);
  });

  test('instances x defaultPoolSize above max_connections - 10 is refused, with the arithmetic', () => {
    expectError({ pooler: { instances: 2, defaultPoolSize: 46 } }, 'test/db', 'pooler.defaultPoolSize', '46',
      /instances x defaultPoolSize \(92\) must leave room within max_connections \(100, 10 kept for members and administration\)/);
    expectError({ pooler: { instances: 3, defaultPoolSize: 20 }, config: { connection: { maxConnections: 50 } } }, 'test/db', 'pooler.defaultPoolSize', '20',
      /\(60\) must leave room within max_connections \(50,/);
  });

  test('the default pool (2 x 20) against a small max_connections is refused too', () => {
    expectError({ pooler: {}, config: { connection: { maxConnections: 45 } } }, 'test/db', 'pooler.defaultPoolSize', '20', /\(40\) must leave room within max_connections \(45,/);
  });

  test('exactly max_connections - 10 is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { pooler: { instances: 2, defaultPoolSize: 45 } })).not.toThrow();
    expect(() => new PostgresCluster(Testing.chart(), 'db', { pooler: { instances: 1, defaultPoolSize: 90 } })).not.toThrow();
  });

  test.each([
    ['docker.io/percona/percona-pgbouncer'], ['docker.io/percona/percona-pgbouncer:latest'], ['pgbouncer@sha256:abc'],
  ])('the unpinned image %j is refused', (image) => {
    expectError({ pooler: { image } }, 'test/db', 'pooler.image', JSON.stringify(image), /must be pinned by a tag other than latest or by a sha256 digest/);
  });

  test('a digest-pinned image is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { pooler: { image: `docker.io/percona/percona-pgbouncer@sha256:${'a'.repeat(64)}` } })).not.toThrow();
  });

  test('pooler resources: a CPU or memory request above its limit is refused', () => {
    expectError({ pooler: { resources: Resources.of({ cpu: kplus.Cpu.millis(500), cpuLimit: kplus.Cpu.millis(200), memory: mib(128) }) } },
      'test/db', 'pooler.resources.cpu', '"500m"', /must not exceed the CPU limit \(200m\)/);
    expectError({ pooler: { resources: Resources.of({ cpu: kplus.Cpu.millis(100), memory: mib(256), memoryLimit: mib(128) }) } },
      'test/db', 'pooler.resources.memory', '"256Mi"', /must not exceed the memory limit \(128Mi\)/);
  });
});

describe('predefined roles a user may be granted', () => {
  test.each(['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'])('%s (reaches the server\'s files or programs) is refused', (role) => {
    expect(errorOf({ users: [{ name: 'app', memberOf: [role] }] }))
      .toMatch(new RegExp(`^test/db: invalid users\\[app\\]\\.memberOf = "${role}": must be a user declared before it, or one of pg_read_all_data`));
  });

  test('pg_read_all_data and pg_monitor are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { users: [{ name: 'app', memberOf: ['pg_read_all_data', 'pg_monitor'] }] })).not.toThrow();
  });
});
