import { Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { FailoverTiming, PostgresCluster, PostgresClusterProps, PostgresImage, ReplicationMode, Resources } from '../src';

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
    expectError({ replicas: { count: 0, mode } }, 'test/db', 'replicas.mode', JSON.stringify(mode), /needs at least one replica/);
  });

  test.each([[0, 2], [3, 2], [2, 1]])('synchronousStandbys %p with count %p is refused', (standbys, count) => {
    expectError({ replicas: { count, mode: ReplicationMode.SYNCHRONOUS, synchronousStandbys: standbys } },
      'test/db', 'replicas.synchronousStandbys', String(standbys), new RegExp(`whole number from 1 to ${count}`));
  });

  test('fractional synchronousStandbys is refused', () => {
    expectError({ replicas: { count: 3, mode: ReplicationMode.SYNCHRONOUS_STRICT, synchronousStandbys: 1.5 } },
      'test/db', 'replicas.synchronousStandbys', '1.5', /whole number/);
  });

  test.each([[undefined], [ReplicationMode.ASYNCHRONOUS]])('synchronousStandbys with asynchronous mode (%p) is refused', (mode) => {
    expectError({ replicas: { mode, synchronousStandbys: 1 } }, 'test/db', 'replicas.synchronousStandbys', '1',
      /only applies with ReplicationMode.SYNCHRONOUS or SYNCHRONOUS_STRICT/);
  });

  test('maximumLagOnFailover below 1Mi is refused', () => {
    expectError({ replicas: { maximumLagOnFailover: Size.kibibytes(512) } }, 'test/db', 'replicas.maximumLagOnFailover', '"512Ki"', /at least 1Mi/);
  });

  test('maximumLagOnFailover of exactly 1Mi is accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { replicas: { maximumLagOnFailover: mib(1) } })).not.toThrow();
  });
});

describe('maxConnections', () => {
  test.each([[9], [0], [10001], [50.5]])('%p is refused', (maxConnections) => {
    expectError({ maxConnections }, 'test/db', 'maxConnections', String(maxConnections), /whole number from 10 to 10000/);
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
    expectError({ resources: of({ memory: gib(2), memoryLimit: gib(1) }) }, 'test/db/Primary', 'resources.memory', '"2Gi"',
      /must not exceed the memory limit \(1Gi\)/);
  });

  test('cpu request above the limit is refused', () => {
    expectError({ resources: of({ cpu: kplus.Cpu.units(2), cpuLimit: kplus.Cpu.units(1) }) }, 'test/db/Primary', 'resources.cpu', '"2"',
      /must not exceed the CPU limit \(1\)/);
  });

  test('memory limit below 256Mi is refused', () => {
    expectError({ resources: of({ memory: mib(128) }) }, 'test/db/Primary', 'resources.memoryLimit', '"128Mi"', /at least 256Mi/);
  });

  test('cpu limit below 100m is refused', () => {
    expectError({ resources: of({ cpu: kplus.Cpu.millis(50) }) }, 'test/db/Primary', 'resources.cpuLimit', '"50m"', /at least 100m/);
  });

  test('a replica-only override is checked and named as such', () => {
    expectError({ replicas: { resources: of({ memory: mib(200) }) } }, 'test/db/Replicas', 'replicas.resources.memoryLimit', '"200Mi"', /at least 256Mi/);
  });

  test('256Mi and 100m are accepted', () => {
    expect(() => new PostgresCluster(Testing.chart(), 'db', { resources: of({ memory: mib(256), cpu: kplus.Cpu.millis(100) }) })).not.toThrow();
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
