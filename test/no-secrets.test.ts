/**
 * No credential is ever in the synthesized YAML: no Secret objects (the credentials Job and
 * cert-manager create them in the cluster), no password-like literals in ConfigMaps or env, no
 * key material. The scanner is run on every case by the invariant tests; here it is proven to
 * catch what it looks for, and not to flag what the library legitimately emits.
 */
import { allCases } from './helpers/cases';
import { Manifest, find, synthCluster } from './helpers/manifests';
import { isSecretKey, secretLeaks } from '../src/validate/secret-scan';

/** A default cluster, deep-copied so a test can plant something in it. */
function fresh(): Manifest[] {
  return JSON.parse(JSON.stringify(synthCluster())) as Manifest[];
}

const PEM = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

describe.each(allCases().map((c) => [c.name, c] as const))('no credentials in the output: %s', (_name, c) => {
  test('no Secret, no password-like literal, no key material', () => {
    expect(secretLeaks(c.manifests())).toEqual([]);
  });
});

describe('isSecretKey', () => {
  test.each([
    'password', 'PASSWORD', 'passwd', 'secret', 'token', 'PGPASSWORD', 'PATRONI_SUPERUSER_PASSWORD', 'client_secret', 'clientSecret',
    'api-token', 'apiToken', 'db.password', 'pwd',
  ])('%s is password-like', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  test.each([
    'SECRETS', 'SECRET_LABELS', 'secretName', 'password_encryption', 'sslkey', 'keyfile', 'pgpass', 'tokens', 'username', 'passthrough',
  ])('%s is not', (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});

describe('the scanner catches planted credentials', () => {
  test('a clean default cluster has none', () => {
    expect(secretLeaks(fresh())).toEqual([]);
  });

  test('a Secret object', () => {
    const m = fresh();
    m.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-superuser' }, stringData: { password: 'hunter2' } });
    expect(secretLeaks(m)).toEqual(['Secret/db-superuser: Secret objects must not be emitted (they would carry credentials in the YAML)']);
  });

  test('a password key in the Patroni YAML', () => {
    const m = fresh();
    const cm = find(m, 'ConfigMap', 'db-primary-config') as any;
    cm.data['patroni.yaml'] = cm.data['patroni.yaml'].replace('username: replicator', 'username: replicator\n      password: hunter2');
    expect(secretLeaks(m)).toEqual(['ConfigMap/db-primary-config patroni.yaml.postgresql.authentication.replication.password: password has a literal value']);
  });

  test('a quoted password literal in a script', () => {
    const m = fresh();
    const cm = find(m, 'ConfigMap', 'db-scripts') as any;
    cm.data['ensure-secrets.py'] += '\nDEFAULTS = {"password": "hunter2"}\n';
    expect(secretLeaks(m)).toEqual(['ConfigMap/db-scripts ensure-secrets.py: password has a literal value']);
  });

  test('a shell assignment of a literal password', () => {
    const m = fresh();
    const cm = find(m, 'ConfigMap', 'db-scripts') as any;
    cm.data['post-bootstrap.sh'] += '\nPGPASSWORD=hunter2 psql -c "select 1"\n';
    expect(secretLeaks(m)).toEqual(['ConfigMap/db-scripts post-bootstrap.sh: PGPASSWORD has a literal value']);
  });

  test('a connection URL with a password', () => {
    const m = fresh();
    const cm = find(m, 'ConfigMap', 'db-scripts') as any;
    cm.data['wait-for-leader.sh'] += '\npsql postgresql://postgres:hunter2@db-primary/app\n';
    expect(secretLeaks(m)).toEqual(['ConfigMap/db-scripts wait-for-leader.sh: URL with a password']);
  });

  test('a ConfigMap key named like a secret', () => {
    const m = fresh();
    (find(m, 'ConfigMap', 'db-scripts') as any).data.token = 'abc123';
    expect(secretLeaks(m)).toEqual(['ConfigMap/db-scripts token: token has a literal value']);
  });

  test('key material in a ConfigMap, in binaryData and elsewhere', () => {
    const m = fresh();
    const cm = find(m, 'ConfigMap', 'db-scripts') as any;
    cm.data['server.key'] = PEM;
    cm.binaryData = { 'client.key': Buffer.from(PEM).toString('base64') };
    (find(m, 'StatefulSet', 'db-primary') as any).metadata.annotations = { cert: PEM };
    expect(secretLeaks(m)).toEqual([
      'ConfigMap/db-scripts server.key: key material (-----BEGIN)',
      'ConfigMap/db-scripts client.key: key material (-----BEGIN)',
      'StatefulSet/db-primary: key material (-----BEGIN)',
    ]);
  });

  test('a secret-named key holding a Secret\'s name is not a leak; holding anything else is', () => {
    const m = fresh();
    const data = (find(m, 'ConfigMap', 'db-scripts') as any).data;
    data.DATABASE_CA_SECRET = 'db-ca';
    data.REPLICATION_SECRET = 'db-replication';
    expect(secretLeaks(m)).toEqual([]);
    data.APP_SECRET = 'k8s-looking-but-not-a-secret-name';
    expect(secretLeaks(m)).toEqual(['ConfigMap/db-scripts APP_SECRET: APP_SECRET has a literal value']);
  });

  test('a literal password env value instead of a secretKeyRef', () => {
    const m = fresh();
    const env = (find(m, 'StatefulSet', 'db-primary') as any).spec.template.spec.containers[0].env;
    const i = env.findIndex((e: any) => e.name === 'PATRONI_SUPERUSER_PASSWORD');
    env[i] = { name: 'PATRONI_SUPERUSER_PASSWORD', value: 'hunter2' };
    expect(secretLeaks(m)).toEqual([
      'StatefulSet/db-primary container postgres env PATRONI_SUPERUSER_PASSWORD: PATRONI_SUPERUSER_PASSWORD has a literal value',
    ]);
  });

  test('a password inside a literal env value of a Job', () => {
    const m = fresh();
    const job = m.find((x) => x.kind === 'Job') as any;
    job.spec.template.spec.containers[0].env.push({ name: 'DSN', value: 'host=db-primary password=\'hunter2\'' });
    expect(secretLeaks(m)).toEqual([`Job/${job.metadata.name} container ensure-secrets env DSN: password has a literal value`]);
  });

  test('env read from Secrets is not a leak', () => {
    const env = find(synthCluster(), 'StatefulSet', 'db-primary').spec.template.spec.containers[0].env;
    const passwords = env.filter((e: any) => isSecretKey(e.name));
    expect(passwords.map((e: any) => e.name).sort()).toEqual(['PATRONI_REPLICATION_PASSWORD', 'PATRONI_REWIND_PASSWORD', 'PATRONI_SUPERUSER_PASSWORD']);
    for (const e of passwords) {
      expect(e.value).toBeUndefined();
      expect(e.valueFrom.secretKeyRef).toEqual({ name: expect.any(String), key: 'password' });
    }
  });
});
