/**
 * Password rotation declared in the code (UserOptions.passwordRotation): what the credentials Job
 * is asked to rotate (SECRET_ROTATIONS) and may update (its Role), how the access Job waits for
 * the rotated Secret (mounted, not from env), that nothing else in the output changes, and the
 * refused values with their messages (also for the library's own roles, PasswordRotationOptions).
 */
import { Testing } from 'cdk8s';
import { PostgresCluster, PostgresClusterProps, UserOptions } from '../src';
import { Manifest, find, ofKind, synthCluster } from './helpers/manifests';
import { restrictedViolations } from '../src/validate/pod-security';

const jobOf = (m: Manifest[], prefix: string): Manifest => {
  const jobs = ofKind(m, 'Job').filter((j) => j.metadata.name.startsWith(`db-${prefix}-`));
  expect(jobs).toHaveLength(1);
  return jobs[0];
};
const container = (job: Manifest) => job.spec.template.spec.containers[0];
const envOf = (job: Manifest, name: string): any => container(job).env.find((e: any) => e.name === name);
const users = (rotation: number | undefined, other: Partial<UserOptions> = {}): PostgresClusterProps => ({
  users: [{ name: 'app', passwordRotation: rotation, ...other }, { name: 'reporter' }, { name: 'readers', login: false }],
});
const withoutJobs = (m: Manifest[]) => m.filter((o) => o.kind !== 'Job' && !(o.kind === 'Role' && o.metadata.name === 'db-credentials'));

describe('no rotation declared (0 or unset)', () => {
  test.each([undefined, 0])('passwordRotation %s: the output is exactly that of no rotation at all', (rotation) => {
    const m = synthCluster(users(rotation));
    expect(m).toEqual(synthCluster({ users: [{ name: 'app' }, { name: 'reporter' }, { name: 'readers', login: false }] }));
    expect(envOf(jobOf(m, 'credentials'), 'SECRET_ROTATIONS')).toBeUndefined();
    expect(find(m, 'Role', 'db-credentials').rules.map((r: any) => r.verbs)).toEqual([['create'], ['get']]);
    expect(jobOf(m, 'access').spec.template.spec.volumes.map((v: any) => v.name)).toEqual(['ca']);
  });
});

describe('a user rotated (passwordRotation 2)', () => {
  const m = synthCluster(users(2));
  const credentials = jobOf(m, 'credentials');
  const access = jobOf(m, 'access');

  test('the credentials Job is asked to rotate only that user\'s Secret, to rotation 2', () => {
    expect(JSON.parse(envOf(credentials, 'SECRET_ROTATIONS').value)).toEqual({ 'db-user-app': 2 });
  });

  test('its Role may update exactly that Secret, nothing more', () => {
    const rules = find(m, 'Role', 'db-credentials').rules;
    expect(rules).toHaveLength(3);
    expect(rules[2]).toEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['update'], resourceNames: ['db-user-app'] });
    expect(rules[1].resourceNames).toContain('db-user-reporter');
  });

  test('the access Job reads that password from the mounted Secret and waits for rotation 2; the others from env', () => {
    const declared = JSON.parse(envOf(access, 'PGC_ACCESS').value).users;
    expect(declared[0]).toMatchObject({ name: 'app', rotation: 2, passwordDir: '/etc/pgc-passwords/0' });
    expect(declared[0].passwordEnv).toBeUndefined();
    expect(declared[1]).toMatchObject({ name: 'reporter', passwordEnv: 'PGC_PASSWORD_1' });
    expect(declared[1].rotation).toBeUndefined();
    expect(envOf(access, 'PGC_PASSWORD_0')).toBeUndefined();
    expect(envOf(access, 'PGC_PASSWORD_1').valueFrom.secretKeyRef).toEqual({ name: 'db-user-reporter', key: 'password' });
    expect(container(access).volumeMounts).toContainEqual({ name: 'password-0', mountPath: '/etc/pgc-passwords/0', readOnly: true });
    expect(access.spec.template.spec.volumes).toContainEqual({
      name: 'password-0',
      secret: {
        secretName: 'db-user-app',
        items: [{ key: 'password', path: 'password' }, { key: 'password-rotation', path: 'password-rotation' }],
        defaultMode: 0o444,
      },
    });
  });

  test('the access Job stays restricted (no ServiceAccount token, read-only mounts)', () => {
    expect(restrictedViolations(access, access.spec.template.spec)).toEqual([]);
    expect(access.spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  test('only the two Jobs and the credentials Role differ from the unrotated output: no member, pooler or Secret change', () => {
    const before = synthCluster({ ...users(undefined), pooler: {} });
    const after = synthCluster({ ...users(2), pooler: {} });
    expect(withoutJobs(after)).toEqual(withoutJobs(before));
    const names = (x: Manifest[]) => ofKind(x, 'Job').map((j) => j.metadata.name);
    expect(names(after).filter((n) => names(before).includes(n))).toEqual([expect.stringMatching(/^db-publish-ca-/), expect.stringMatching(/^db-config-/)]);
    expect(ofKind(after, 'StatefulSet').map((s) => s.spec.template)).toEqual(ofKind(before, 'StatefulSet').map((s) => s.spec.template));
  });

  test('the Job names follow the rotation: the same rotation is the same Jobs, a higher one new Jobs', () => {
    const names = (x: Manifest[]) => ofKind(x, 'Job').map((j) => j.metadata.name).sort();
    expect(names(synthCluster(users(2)))).toEqual(names(m));
    const next = names(synthCluster(users(3)));
    expect(next.filter((n) => n.startsWith('db-credentials-') || n.startsWith('db-access-'))).toHaveLength(2);
    expect(next.filter((n) => names(m).includes(n)).sort()).toEqual([expect.stringMatching(/^db-config-/), expect.stringMatching(/^db-publish-ca-/)]);
  });

  test('addUser() takes it too', () => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'db');
    cluster.addUser({ name: 'late', passwordRotation: 1 });
    const out = Testing.synth(chart) as Manifest[];
    expect(JSON.parse(envOf(jobOf(out, 'credentials'), 'SECRET_ROTATIONS').value)).toEqual({ 'db-user-late': 1 });
  });
});

describe('refused values name the construct path, the property, the value and the rule', () => {
  test.each<[number, RegExp]>([
    [-1, /^test\/db: invalid users\[app\]\.passwordRotation = -1: must be a whole number from 0 to 1000000$/],
    [1.5, /^test\/db: invalid users\[app\]\.passwordRotation = 1\.5: must be a whole number from 0 to 1000000$/],
    [NaN, /^test\/db: invalid users\[app\]\.passwordRotation = NaN: must be a whole number from 0 to 1000000$/],
    [Infinity, /invalid users\[app\]\.passwordRotation = Infinity: must be a whole number/],
    [1_000_001, /invalid users\[app\]\.passwordRotation = 1000001: must be a whole number from 0 to 1000000$/],
  ])('passwordRotation %s', (rotation, message) => {
    expect(() => synthCluster(users(rotation))).toThrow(message);
  });

  test('a role without login has no password to rotate', () => {
    expect(() => synthCluster({ users: [{ name: 'group', login: false, passwordRotation: 1 }] }))
      .toThrow(/^test\/db: invalid users\[group\]\.passwordRotation = 1: needs a login user \(login is false/);
    expect(() => synthCluster({ users: [{ name: 'group', login: false, passwordRotation: 0 }] })).not.toThrow();
  });

  test('from addUser() too', () => {
    const cluster = new PostgresCluster(Testing.chart(), 'db');
    expect(() => cluster.addUser({ name: 'late', passwordRotation: -2 })).toThrow(/^test\/db: invalid users\[late\]\.passwordRotation = -2:/);
  });

  test.each<[string, RegExp]>([
    ['superuser', /Patroni reads the superuser password from its environment when it starts/],
    ['replication', /primary_conninfo/],
    ['monitoring', /the metrics exporter reads the monitoring password from its environment/],
    ['pooler', /PgBouncer reads its userlist\.txt only at start and on reload/],
  ])('the library\'s own %s role: only 0, and a rotation is refused with the reason', (key, reason) => {
    expect(synthCluster({ config: { connection: { passwordRotation: { [key]: 0 } } } })).toEqual(synthCluster());
    const error = (() => {
      try {
        synthCluster({ config: { connection: { passwordRotation: { [key]: 1 } } } });
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    })();
    expect(error).toMatch(new RegExp(`^test/db: invalid config\\.connection\\.passwordRotation\\.${key} = 1: must be 0: `));
    expect(error).toMatch(reason);
    expect(error).toMatch(/not supported yet$/);
    expect(() => synthCluster({ config: { connection: { passwordRotation: { [key]: -1 } } } }))
      .toThrow(new RegExp(`^test/db: invalid config\\.connection\\.passwordRotation\\.${key} = -1: must be a whole number from 0 to 1000000$`));
  });
});
