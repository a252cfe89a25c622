/** The pgBackRest configuration renderers, as functions: every repository type, every process. */
import { cipherPassEnv, credentialEnv, jobConfig, memberConfig, repoHostConfig, RepoInput, sourceConfig } from '../../src/render/pgbackrest';

const tls = (dir: string) => ({ caFile: `${dir}/ca.crt`, certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key` });
const pg = { path: '/pgdata/pg17', port: 5432, socketPath: '/tmp', user: 'postgres' };
const common = { stanza: 'db', compressType: 'zst', processMax: 2, lockPath: '/tmp/pgbackrest' };
const retention = { type: 'count', full: 2 };
const volume: RepoInput = { index: 1, type: 'posix', path: '/pgbackrest/repo', retention, encrypted: true };
const s3: RepoInput = {
  index: 2,
  type: 's3',
  path: '/pgbackrest',
  retention: { type: 'time', full: 14 },
  encrypted: false,
  store: { bucket: 'acme', endpoint: 'minio:9000', region: 'eu-west-1', uriStyle: 'path', caFile: '/etc/pgbackrest/repo2-ca/ca.crt' },
};
const gcs: RepoInput = { index: 3, type: 'gcs', path: '/x', retention: { type: 'count', full: 3, differential: 2 }, encrypted: false, store: { bucket: 'g', keyFile: '/k/key.json' } };
const azure: RepoInput = { index: 4, type: 'azure', path: '/y', retention, encrypted: true, store: { bucket: 'backups', account: 'acct' } };
const repos = [volume, s3, gcs, azure];
const repoHost = { host: 'db-repo-host-0.db-repo-host', port: 8432, client: tls('/etc/pgbackrest/client-tls') };

/** The `key=value` lines of one section. */
function section(text: string, name: string): Record<string, string> {
  const m = new RegExp(`^\\[${name}\\]\\n([^[]*)`, 'm').exec(text);
  if (!m) throw new Error(`no [${name}] in\n${text}`);
  return Object.fromEntries(m[1].split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('members', () => {
  const text = memberConfig({ ...common, repos, repoHost, spoolPath: '/pgdata/pgbackrest-spool', pg, server: { port: 8432, files: tls('/srv'), clientCn: 'pgbackrest' } });
  const g = section(text, 'global');

  test('archive asynchronously through a spool on the data volume', () => {
    expect(g['archive-async']).toBe('y');
    expect(g['spool-path']).toBe('/pgdata/pgbackrest-spool');
  });

  test('reach the volume repository through the backup node over TLS, with their client certificate', () => {
    expect(g).toMatchObject({
      'repo1-host': 'db-repo-host-0.db-repo-host',
      'repo1-host-type': 'tls',
      'repo1-host-port': '8432',
      'repo1-host-cert-file': '/etc/pgbackrest/client-tls/tls.crt',
      'repo1-host-key-file': '/etc/pgbackrest/client-tls/tls.key',
      'repo1-host-ca-file': '/etc/pgbackrest/client-tls/ca.crt',
      'repo1-cipher-type': 'aes-256-cbc',
    });
    expect(g['repo1-path']).toBeUndefined(); // the backup node's own file says where
  });

  test('write object storage directly: S3 (endpoint, region, path style, private CA), GCS (key file), Azure', () => {
    expect(g).toMatchObject({
      'repo2-type': 's3',
      'repo2-path': '/pgbackrest',
      'repo2-s3-bucket': 'acme',
      'repo2-s3-endpoint': 'minio:9000',
      'repo2-s3-region': 'eu-west-1',
      'repo2-s3-uri-style': 'path',
      'repo2-storage-ca-file': '/etc/pgbackrest/repo2-ca/ca.crt',
      'repo3-type': 'gcs',
      'repo3-gcs-bucket': 'g',
      'repo3-gcs-key': '/k/key.json',
      'repo3-path': '/x',
      'repo4-type': 'azure',
      'repo4-azure-account': 'acct',
      'repo4-azure-container': 'backups',
      'repo4-cipher-type': 'aes-256-cbc',
    });
    expect(g['repo2-cipher-type']).toBeUndefined();
  });

  test('retention is not theirs (backups run in the Jobs), and no secret is in the file', () => {
    expect(Object.keys(g).filter((k) => k.includes('retention'))).toEqual([]);
    expect(Object.keys(g).filter((k) => /cipher-pass|s3-key|azure-key/.test(k))).toEqual([]);
  });

  test('serve the stanza to the backup client certificate only; the stanza names the local instance', () => {
    expect(g).toMatchObject({ 'tls-server-auth': 'pgbackrest=db', 'tls-server-address': '*', 'tls-server-port': '8432', 'tls-server-cert-file': '/srv/tls.crt' });
    expect(section(text, 'db')).toEqual({ 'pg1-path': '/pgdata/pg17', 'pg1-port': '5432', 'pg1-socket-path': '/tmp', 'pg1-user': 'postgres' });
  });

  test('a volume repository without its backup node is refused', () => {
    expect(() => memberConfig({ ...common, repos: [volume], spoolPath: '/s', pg, server: { port: 8432, files: tls('/s'), clientCn: 'x' } }))
      .toThrow(/needs its backup node/);
  });
});

test('the backup node keeps the volume repository behind its TLS server', () => {
  const text = repoHostConfig({ ...common, lockPath: '/pgbackrest/lock', repo: volume, server: { port: 8432, files: tls('/etc/pgbackrest/server-tls'), clientCn: 'pgbackrest' } });
  expect(section(text, 'global')).toMatchObject({
    'repo1-path': '/pgbackrest/repo',
    'repo1-cipher-type': 'aes-256-cbc',
    'lock-path': '/pgbackrest/lock',
    'tls-server-auth': 'pgbackrest=db',
    'tls-server-cert-file': '/etc/pgbackrest/server-tls/tls.crt',
  });
  expect(text).toMatch(/^\[db\]$/m);
});

test('the backup Jobs run the backups: every repository with its retention, the leader through its server', () => {
  const text = jobConfig({ ...common, repos, leader: { host: 'db-primary', port: 8432, client: tls('/c') }, pg });
  const g = section(text, 'global');
  expect(g).toMatchObject({
    'start-fast': 'y',
    'repo1-path': '/pgbackrest/repo',
    'repo1-retention-full': '2',
    'repo1-retention-full-type': 'count',
    'repo2-retention-full': '14',
    'repo2-retention-full-type': 'time',
    'repo3-retention-diff': '2',
  });
  expect(g['repo1-host']).toBeUndefined(); // the Job mounts the volume: it is the repository host
  expect(section(text, 'db')).toMatchObject({ 'pg1-host': 'db-primary', 'pg1-host-type': 'tls', 'pg1-host-port': '8432', 'pg1-host-cert-file': '/c/tls.crt', 'pg1-path': '/pgdata/pg17' });
});

test('a restore source is repo1 of a file and stanza of its own', () => {
  const fromVolume = sourceConfig({ ...common, stanza: 'orders', repo: volume, repoHost: { ...repoHost, host: 'orders-repo-host-0.orders-repo-host' }, pg, spoolPath: '/pgdata/pgbackrest-spool' });
  // The spool is on the data volume: a restore clears its archive-get queue there, never in the image's /var/spool.
  expect(section(fromVolume, 'global')).toMatchObject({
    'repo1-host': 'orders-repo-host-0.orders-repo-host', 'repo1-cipher-type': 'aes-256-cbc', 'spool-path': '/pgdata/pgbackrest-spool',
  });
  expect(section(fromVolume, 'orders')).toMatchObject({ 'pg1-path': '/pgdata/pg17' });
  const fromS3 = sourceConfig({ ...common, stanza: 'orders', repo: { ...s3, index: 1 }, pg, spoolPath: '/pgdata/pgbackrest-spool' });
  expect(section(fromS3, 'global')).toMatchObject({ 'repo1-type': 's3', 'repo1-s3-bucket': 'acme' });
  expect(fromS3).not.toMatch(/archive-async|tls-server|retention/);
});

test('credentials and cipher passes come from the environment, by repository', () => {
  expect(credentialEnv(2, 's3')).toEqual([
    { env: 'PGBACKREST_REPO2_S3_KEY', secretKey: 'access-key-id' }, { env: 'PGBACKREST_REPO2_S3_KEY_SECRET', secretKey: 'secret-access-key' },
  ]);
  expect(credentialEnv(4, 'azure')).toEqual([{ env: 'PGBACKREST_REPO4_AZURE_KEY', secretKey: 'key' }]);
  expect(credentialEnv(3, 'gcs')).toEqual([]);
  expect(credentialEnv(1, 'posix')).toEqual([]);
  expect(cipherPassEnv(3)).toBe('PGBACKREST_REPO3_CIPHER_PASS');
});

test('a value that would break the file is refused', () => {
  expect(() => jobConfig({ ...common, repos: [{ ...s3, store: { ...s3.store!, bucket: 'a\nrepo9-path=/etc' } }], leader: { host: 'h', port: 1, client: tls('/c') }, pg }))
    .toThrow(/unsafe value/);
});
