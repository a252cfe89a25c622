/** Synth-time rules for backup settings, as functions. */
import * as fc from 'fast-check';
import {
  azureAccountProblem, azureContainerProblem, cronProblem, endpointProblem, gcsBucketProblem, repoPathProblem, s3BucketProblem, timeZoneProblem,
} from '../../src/render/backup-rules';

describe('cron schedules', () => {
  test.each(['0 1 * * 0', '*/15 * * * *', '30 2 1,15 * *', '0 3 * * 1-5', '0 0 * JAN-MAR mon', '5 4 * * sun', '0 1 * * 7', '@daily', '@weekly', '0 */6 * * *', '0 1 ? * *'])(
    '%s is accepted', (expr) => expect(cronProblem(expr)).toBeUndefined());
  test.each([
    ['0 1 * *', /needs 5 fields/],
    ['0 1 * * * *', /needs 5 fields/],
    ['60 1 * * *', /minute field "60" is outside 0-59/],
    ['0 24 * * *', /hour field "24"/],
    ['0 1 0 * *', /day of month field "0"/],
    ['0 1 * 13 *', /month field "13"/],
    ['0 1 * * 8', /day of week field "8"/],
    ['0 5-2 * * *', /ends before it starts/],
    ['*/0 * * * *', /step below 1/],
    ['@sometimes', /unknown macro/],
    ['CRON_TZ=UTC 0 1 * * *', /schedules.timeZone/],
    ['a b c d e', /minute field "a"/],
  ])('%s is refused', (expr, why) => expect(cronProblem(expr)).toMatch(why));

  test('any in-range minute/hour/day-of-month/month/day-of-week is accepted, any out-of-range minute refused', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 1, max: 31 }),
      fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 7 }),
      (mi, h, d, mo, w) => cronProblem(`${mi} ${h} ${d} ${mo} ${w}`) === undefined,
    ));
    fc.assert(fc.property(fc.integer({ min: 60, max: 10000 }), (mi) => /outside/.test(cronProblem(`${mi} 1 * * *`) ?? '')));
  });
});

test('S3 buckets', () => {
  for (const ok of ['acme-pg', 'a.b.c', 'abc', 'a'.repeat(63)]) expect(s3BucketProblem(ok)).toBeUndefined();
  expect(s3BucketProblem('ab')).toMatch(/3 to 63/);
  expect(s3BucketProblem('Acme')).toMatch(/lower-case/);
  expect(s3BucketProblem('a..b')).toMatch(/\.\./);
  expect(s3BucketProblem('192.168.1.1')).toMatch(/IP address/);
  expect(s3BucketProblem('-abc')).toMatch(/starting and ending/);
});

test('GCS buckets, Azure containers and accounts', () => {
  expect(gcsBucketProblem('my_bucket.backups')).toBeUndefined();
  expect(gcsBucketProblem('my-google-x')).toMatch(/google/);
  expect(gcsBucketProblem('goog-x')).toMatch(/goog/);
  expect(gcsBucketProblem(`${'a'.repeat(64)}.b`)).toMatch(/63/);
  expect(azureContainerProblem('backups-1')).toBeUndefined();
  expect(azureContainerProblem('a--b')).toMatch(/single "-"/);
  expect(azureContainerProblem('Backups')).toMatch(/lower-case/);
  expect(azureAccountProblem('acmepg01')).toBeUndefined();
  expect(azureAccountProblem('acme-pg')).toMatch(/3 to 24/);
});

test('S3 endpoints and repository paths', () => {
  expect(endpointProblem('s3.eu-west-1.amazonaws.com')).toBeUndefined();
  expect(endpointProblem('minio.storage.svc:9000')).toBeUndefined();
  expect(endpointProblem('https://minio:9000')).toMatch(/no scheme/);
  expect(endpointProblem('minio:70000')).toMatch(/1 to 65535/);
  expect(repoPathProblem('/pgbackrest')).toBeUndefined();
  expect(repoPathProblem('/a/b-c/d_e.f')).toBeUndefined();
  expect(repoPathProblem('relative')).toMatch(/absolute/);
  expect(repoPathProblem('/a/../b')).toMatch(/\.\./);
  expect(repoPathProblem('/a b')).toMatch(/absolute path of letters/);
  expect(repoPathProblem('/a/')).toMatch(/end with/);
});

describe('time zones: names of the runtime\'s time-zone database', () => {
  test.each(['Europe/Berlin', 'UTC', 'America/Argentina/Buenos_Aires', 'Etc/GMT+1', 'Asia/Kolkata', 'US/Pacific'])(
    '%s is accepted', (tz) => expect(timeZoneProblem(tz)).toBeUndefined());
  test.each([
    ['Berlin', /is not a time zone of .*; did you mean "Europe\/Berlin"\?/],
    ['Europe/Berln', /is not a time zone of /],
    ['Mars/Olympus', /is not a time zone of .*names look like "Europe\/Berlin"/],
    ['europe/berlin', /case-sensitive: did you mean "Europe\/Berlin"\?/],
    ['Mars Standard', /must be an IANA time zone name/],
    ['+01:00', /must be an IANA time zone name/],
  ])('%s is refused', (tz, why) => expect(timeZoneProblem(tz)).toMatch(why));
  test('every zone the runtime lists is accepted', () => {
    const refused = Intl.supportedValuesOf('timeZone').filter((z) => timeZoneProblem(z) !== undefined);
    expect(refused).toEqual([]);
  });
});
