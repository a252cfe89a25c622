/**
 * Backups and restores as synthesized: what members, the backup node and the Jobs get, and every
 * error a platform engineer can meet (each names the construct path, the property, the value and
 * the rule).
 */
import { Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse } from 'yaml';
import {
  BackupRepository, BackupRetention, PostgresCluster, PostgresClusterProps, RecoveryTarget, Resources, S3UriStyle, Tls,
} from '../src';
import { Manifest, buildCluster, find, ofKind, selects, synthCluster, synthWith } from './helpers/manifests';

const chart = () => Testing.chart();
let secrets = 0;
const secret = (c: any, n: string) => kplus.Secret.fromSecretName(c, `${n}-${++secrets}`, n);
const s3 = (c: any, extra: object = {}) => BackupRepository.s3({ bucket: 'acme-pg', region: 'eu-west-1', credentialsSecret: secret(c, 'creds'), ...extra });
const build = (props: (c: any) => PostgresClusterProps) => { const c = chart(); return () => new PostgresCluster(c, 'db', props(c)); };
const patroni = (m: Manifest[], sts: string) => parse(find(m, 'ConfigMap', `${sts}-config`).data['patroni.yaml']);

describe('a cluster with a volume repository', () => {
  const m = synthCluster({ backup: { repositories: [BackupRepository.volume()] } });

  test('every member archives WAL with pgBackRest and restores replicas from the repository first', () => {
    for (const sts of ['db-primary', 'db-replica']) {
      const cfg = patroni(m, sts);
      expect(cfg.postgresql.parameters).toMatchObject({ archive_mode: 'on', archive_command: '/usr/bin/pgbackrest --stanza=db archive-push "%p"', archive_timeout: 60 });
      expect(cfg.postgresql.create_replica_methods).toEqual(['pgbackrest', 'basebackup']);
      expect(cfg.postgresql.pgbackrest).toEqual({ command: '/usr/bin/pgbackrest --stanza=db --delta restore', keep_data: true, no_params: true });
      expect(cfg.postgresql.recovery_conf.restore_command).toBe('/usr/bin/pgbackrest --stanza=db archive-get %f "%p"');
      expect(cfg.bootstrap.method).toBeUndefined();
    }
  });

  test('members run the pgBackRest server as a sidecar with limits and no readiness probe; the read-write Service carries its port', () => {
    const pod = find(m, 'StatefulSet', 'db-primary').spec.template.spec;
    const side = pod.containers.find((c: any) => c.name === 'pgbackrest');
    // Under the reload wrapper: a renewed server certificate or a changed configuration gets it SIGHUP.
    // Started by pgbackrest-server.sh, which adds `server` and the address of every family; started
    // again when a reload cannot bind the port (status 41).
    expect(side.command).toEqual(['/bin/bash', '/opt/cdk8s-postgres/reload-on-change.sh', '--restart-on-exit=41,139',
      '/etc/postgres-tls/server', '/etc/pgbackrest/conf', '--',
      '/bin/bash', '/opt/cdk8s-postgres/pgbackrest-server.sh', '/usr/bin/pgbackrest']);
    expect(side.resources.limits).toEqual({ cpu: '250m', memory: '128Mi' });
    expect(side.readinessProbe).toBeUndefined();
    expect(side.volumeMounts.map((v: any) => v.mountPath)).toEqual(expect.arrayContaining(['/pgdata', '/tmp', '/etc/postgres-tls/server', '/etc/pgbackrest/conf']));
    expect(find(m, 'Service', 'db-primary').spec.ports.map((p: any) => [p.name, p.port])).toEqual([['postgres', 5432], ['pgbackrest', 8432]]);
    expect(find(m, 'Service', 'db-replicas').spec.ports.map((p: any) => p.name)).toEqual(['postgres']);
  });

  test('the backup node: one pod, its own claim and headless Service, its own server certificate', () => {
    const node = find(m, 'StatefulSet', 'db-repo-host');
    expect(node.spec.replicas).toBe(1);
    expect(node.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20480Mi');
    expect(node.spec.template.spec.containers[0].command.slice(-3)).toEqual(['/bin/bash', '/opt/cdk8s-postgres/pgbackrest-server.sh', '/usr/bin/pgbackrest']);
    // The starter is mounted beside the reload wrapper.
    expect(node.spec.template.spec.volumes.find((v: any) => v.name === 'scripts').configMap.items.map((i: any) => i.key))
      .toEqual(['reload-on-change.sh', 'pgbackrest-server.sh']);
    expect(find(m, 'Certificate', 'db-repo-host').spec.dnsNames).toEqual(['*.db-repo-host']);
    expect(find(m, 'Certificate', 'db-pgbackrest').spec.commonName).toBe('pgbackrest');
  });

  test('the backup node keeps away from the members when the scheduler can (preferred anti-affinity to every member pod)', () => {
    const node = find(m, 'StatefulSet', 'db-repo-host');
    const terms = node.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(terms).toEqual([{
      weight: 100,
      podAffinityTerm: { labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgresql', 'postgres.cdk8s.io/cluster': 'db' } }, topologyKey: 'kubernetes.io/hostname' },
    }]);
    for (const sts of ofKind(m, 'StatefulSet')) {
      const member = sts.metadata.name !== 'db-repo-host';
      const selected = selects(terms[0].podAffinityTerm.labelSelector.matchLabels, sts.spec.template.metadata.labels);
      expect([sts.metadata.name, selected]).toEqual([sts.metadata.name, member]);
    }
    // Not required: a cluster on fewer nodes than members + 1 still gets its backup node.
    expect(node.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  });

  test('default schedules: a weekly full and daily incremental CronJob, never two at once; the Jobs run beside the backup node', () => {
    const crons = ofKind(m, 'CronJob').filter((c) => c.metadata.labels?.['app.kubernetes.io/name'] === 'pgbackrest');
    expect(crons.map((c) => [c.metadata.name, c.spec.schedule])).toEqual([['db-repo1-full', '0 1 * * 0'], ['db-repo1-incr', '0 1 * * 1-6']]);
    for (const c of crons) {
      expect(c.spec.concurrencyPolicy).toBe('Forbid');
      expect([c.spec.successfulJobsHistoryLimit, c.spec.failedJobsHistoryLimit]).toEqual([3, 3]);
      const pod = c.spec.jobTemplate.spec.template.spec;
      expect(pod.volumes.find((v: any) => v.name === 'repo').persistentVolumeClaim.claimName).toBe('repo-db-repo-host-0');
      expect(pod.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
      expect(pod.securityContext.runAsNonRoot).toBe(true);
    }
    expect(crons[1].spec.jobTemplate.spec.template.spec.containers[0].command).toEqual(['/usr/bin/pgbackrest', '--stanza=db', '--repo=1', '--type=incr', 'backup']);
  });

  test('a Job creates the stanza and the first full backup; its name changes with its spec', () => {
    const job = ofKind(m, 'Job').find((j) => j.metadata.name.startsWith('db-backup-init-'))!;
    expect(job.spec.template.spec.containers[0].command).toEqual(['/bin/bash', '/opt/cdk8s-postgres/backup-init.sh']);
    const other = synthCluster({ backup: { repositories: [BackupRepository.volume({ retention: BackupRetention.count(5) })] } });
    expect(ofKind(other, 'Job').find((j) => j.metadata.name.startsWith('db-backup-init-'))!.metadata.name).not.toBe(job.metadata.name);
  });

  test('NetworkPolicies: backup pods reach the members\' server, members reach the backup node', () => {
    const members = find(m, 'NetworkPolicy', 'db-members').spec;
    expect(members.ingress.some((r: any) => r.ports[0].port === 8432 && r.from[0].podSelector.matchLabels['app.kubernetes.io/name'] === 'pgbackrest')).toBe(true);
    expect(members.egress.some((r: any) => r.ports[0].port === 8432 && r.to[0].podSelector.matchLabels['app.kubernetes.io/component'] === 'repo-host')).toBe(true);
    const own = find(m, 'NetworkPolicy', 'db-pgbackrest').spec;
    expect(own.ingress[0].ports[0].port).toBe(8432);
  });

  test('scaling the replicas changes only the replica StatefulSet and the config Job, its Role and both CronJobs (their members)', () => {
    const scaled = synthCluster({ replicas: { count: 4 }, backup: { repositories: [BackupRepository.volume()] } });
    const changed = scaled.filter((o, i) => JSON.stringify(o) !== JSON.stringify(m[i])).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(changed.map((c) => c.replace(/-[0-9a-f]{8}$/, '-<hash>'))).toEqual(['StatefulSet/db-replica', 'Role/db-config', 'Job/db-config-<hash>', 'CronJob/db-reconcile', 'CronJob/db-restart']);
  });
});

test('object storage credentials and cipher passes reach pgBackRest only through Secret references', () => {
  const m = synthWith((c) => new PostgresCluster(c, 'db', {
    backup: { repositories: [s3(c, { encryptionSecret: secret(c, 'cipher'), uriStyle: S3UriStyle.PATH, endpoint: 'minio:9000' })] },
  }));
  const env = find(m, 'StatefulSet', 'db-primary').spec.template.spec.containers[0].env;
  expect(env.filter((e: any) => e.name.startsWith('PGBACKREST_REPO'))).toEqual([
    { name: 'PGBACKREST_REPO1_S3_KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'access-key-id' } } },
    { name: 'PGBACKREST_REPO1_S3_KEY_SECRET', valueFrom: { secretKeyRef: { name: 'creds', key: 'secret-access-key' } } },
    { name: 'PGBACKREST_REPO1_CIPHER_PASS', valueFrom: { secretKeyRef: { name: 'cipher', key: 'cipher-pass' } } },
  ]);
  expect(ofKind(m, 'StatefulSet').map((s) => s.metadata.name)).toEqual(['db-primary', 'db-replica']); // no backup node
  const egress = find(m, 'NetworkPolicy', 'db-members').spec.egress;
  expect(egress.some((r: any) => r.to === undefined && r.ports[0].port === 9000)).toBe(true);
});

test('a restored cluster bootstraps from the source through a file and stanza of its own', () => {
  const m = synthCluster({
    restore: { sourceCluster: 'orders', repository: BackupRepository.volume(), target: RecoveryTarget.time(new Date('2026-11-24T22:16:53.000Z')) },
  });
  const cfg = patroni(m, 'db-primary');
  expect(cfg.bootstrap.method).toBe('pgbackrest_restore');
  expect(cfg.bootstrap.pgbackrest_restore).toEqual({
    command: '/opt/cdk8s-postgres/bootstrap-restore.sh',
    no_params: true,
    recovery_conf: {
      restore_command: '/opt/cdk8s-postgres/pgbackrest-source.sh archive-get %f "%p"',
      recovery_target_action: 'promote',
      recovery_target_timeline: 'latest',
      recovery_target_time: '2026-11-24 22:16:53.000+00',
    },
  });
  const env = Object.fromEntries(find(m, 'StatefulSet', 'db-primary').spec.template.spec.containers[0].env.filter((e: any) => e.value).map((e: any) => [e.name, e.value]));
  expect(env).toMatchObject({ PGC_SOURCE_STANZA: 'orders', PGC_RESTORE_TYPE: 'time', PGC_RESTORE_TARGET: '2026-11-24 22:16:53.000+00' });
  const source = find(m, 'ConfigMap', 'db-pgbackrest').data['source.conf'];
  expect(source).toMatch(/^repo1-host=orders-repo-host-0\.orders-repo-host$/m);
  expect(source).toMatch(/^\[orders\]$/m);
  // Without backups of its own it archives nothing and runs no pgBackRest server.
  expect(cfg.postgresql.parameters.archive_mode).toBe('off');
  expect(find(m, 'StatefulSet', 'db-primary').spec.template.spec.containers.map((c: any) => c.name)).not.toContain('pgbackrest');
});

describe('errors name the property, the value and the rule', () => {
  test.each<[string, (c: any) => PostgresClusterProps, RegExp]>([
    ['TLS disabled', () => ({ tls: Tls.disabled(), backup: { repositories: [BackupRepository.volume()] } }), /^test\/db: invalid backup = "Tls.disabled\(\)": backups need TLS/],
    ['a volume with certificates of your own', (c) => ({ tls: Tls.fromSecrets({ server: secret(c, 's'), replicationClient: secret(c, 'r') }), backup: { repositories: [BackupRepository.volume()] } }), /invalid backup.repositories = "BackupRepository.volume\(\)": .*cert-manager/],
    ['no repository', () => ({ backup: { repositories: [] } }), /invalid backup.repositories = "0 repositories": must list 1 to 4/],
    ['five repositories', (c) => ({ backup: { repositories: [1, 2, 3, 4, 5].map((i) => s3(c, { path: `/p${i}` })) } }), /"5 repositories": must list 1 to 4/],
    ['two volumes', () => ({ backup: { repositories: [BackupRepository.volume(), BackupRepository.volume()] } }), /at most one BackupRepository.volume/],
    ['the same bucket twice', (c) => ({ backup: { repositories: [s3(c), s3(c)] } }), /invalid backup.repositories\[1\] = "s3:\/\/s3.eu-west-1.amazonaws.com\/acme-pg\/pgbackrest": is the same location as repositories\[0\]/],
    ['a bad schedule', () => ({ backup: { repositories: [BackupRepository.volume()], schedules: { full: '0 25 * * *' } } }), /invalid backup.repositories\[0\].schedules.full = "0 25 \* \* \*": hour field "25" is outside 0-23/],
    ['incremental without full', () => ({ backup: { repositories: [BackupRepository.volume()], schedules: { incremental: '@daily' } } }), /schedules = .*need a full schedule/],
    ['a bad time zone', () => ({ backup: { repositories: [BackupRepository.volume({ schedules: { full: '@daily', timeZone: 'Mars Standard' } })] } }), /schedules.timeZone = "Mars Standard"/],
    ...['Berlin', 'Europe/Berln', 'Mars/Olympus'].map((tz): [string, (c: any) => PostgresClusterProps, RegExp] => [
      `a time zone not in the database (${tz})`,
      () => ({ backup: { repositories: [BackupRepository.volume({ schedules: { full: '@daily', timeZone: tz } })] } }),
      new RegExp(`^test/db: invalid backup.repositories\\[0\\].schedules.timeZone = "${tz}": is not a time zone of `),
    ]),
    ['a bad bucket', (c) => ({ backup: { repositories: [s3(c, { bucket: 'Acme_PG' })] } }), /invalid backup.repositories\[0\].bucket = "Acme_PG": must be 3 to 63/],
    ['a bad region', (c) => ({ backup: { repositories: [s3(c, { region: 'EU West' })] } }), /repositories\[0\].region = "EU West"/],
    ['an endpoint with a scheme', (c) => ({ backup: { repositories: [s3(c, { endpoint: 'https://minio' })] } }), /repositories\[0\].endpoint = "https:\/\/minio": .*no scheme/],
    ['a bad GCS bucket', (c) => ({ backup: { repositories: [BackupRepository.gcs({ bucket: 'goog-pg', credentialsSecret: secret(c, 'g') })] } }), /bucket = "goog-pg"/],
    ['a bad Azure account', (c) => ({ backup: { repositories: [BackupRepository.azure({ account: 'Acme', container: 'pg', credentialsSecret: secret(c, 'a') })] } }), /account = "Acme"/],
    ['a bad Azure container', (c) => ({ backup: { repositories: [BackupRepository.azure({ account: 'acme', container: 'p', credentialsSecret: secret(c, 'a') })] } }), /container = "p"/],
    ['a path on a volume', () => ({ backup: { repositories: [BackupRepository.volume({ path: '/x' })] } }), /repositories\[0\].path = "\/x": a volume repository fills its own volume/],
    ['a relative path', (c) => ({ backup: { repositories: [s3(c, { path: 'pg' })] } }), /repositories\[0\].path = "pg": must be an absolute path/],
    ['a tiny volume', () => ({ backup: { repositories: [BackupRepository.volume({ size: Size.mebibytes(100) })] } }), /repositories\[0\].size = "100Mi": must be at least 1Gi/],
    ['no full backups kept', () => ({ backup: { repositories: [BackupRepository.volume({ retention: BackupRetention.count(0) })] } }), /retention.full = 0: must be a whole number from 1 to 9999/],
    ['a short archive timeout', () => ({ backup: { repositories: [BackupRepository.volume()], archiveTimeout: Duration.seconds(5) } }), /backup.archiveTimeout = "5000ms": must be a whole number of seconds from 10 to 3600/],
    ['too many processes', () => ({ backup: { repositories: [BackupRepository.volume()], processMax: 64 } }), /backup.processMax = 64/],
    ['requests above limits', () => ({ backup: { repositories: [BackupRepository.volume()], resources: Resources.of({ cpu: kplus.Cpu.units(2), cpuLimit: kplus.Cpu.units(1), memory: Size.mebibytes(256) }) } }), /backup.resources.cpu = "2": must not exceed the CPU limit/],
    ['restoring into its own stanza', () => ({ clusterName: 'orders', restore: { sourceCluster: 'orders', repository: BackupRepository.volume() }, backup: { repositories: [BackupRepository.volume()] } }), /restore.sourceCluster = "orders": is this cluster's own stanza/],
    ['a bad source name', () => ({ restore: { sourceCluster: 'Orders', repository: BackupRepository.volume() } }), /restore.sourceCluster = "Orders"/],
    ['a bad LSN', () => ({ restore: { sourceCluster: 'orders', repository: BackupRepository.volume(), target: RecoveryTarget.lsn('1A0240D0') } }), /restore.target = "1A0240D0": an LSN/],
    ['a bad transaction id', () => ({ restore: { sourceCluster: 'orders', repository: BackupRepository.volume(), target: RecoveryTarget.transactionId(1.5) } }), /restore.target = "1.5": a transaction id/],
    ['a bad restore point', () => ({ restore: { sourceCluster: 'orders', repository: BackupRepository.volume(), target: RecoveryTarget.restorePoint("it's") } }), /restore.target = "it's"/],
    ['a bad backup set', () => ({ restore: { sourceCluster: 'orders', repository: BackupRepository.volume(), backupSet: 'latest' } }), /restore.backupSet = "latest": must be a pgBackRest backup label/],
  ])('%s', (_name, props, message) => {
    expect(build(props)).toThrow(message);
  });

  test('an invalid Date is refused', () => {
    expect(() => RecoveryTarget.time(new Date('nonsense'))).toThrow();
  });
});

test('the BackupNode tells other constructs its stanza, backup node, CronJobs and init Job', () => {
  const { cluster } = buildCluster({ backup: { repositories: [BackupRepository.volume()] } }, { namespace: 'team' });
  expect(cluster.backup!.stanza).toBe('db');
  expect(cluster.backup!.repositoryHost).toBe('db-repo-host-0.db-repo-host.team.svc');
  expect(cluster.backup!.cronJobNames).toEqual(['db-repo1-full', 'db-repo1-incr']);
  expect(cluster.backup!.initJobName).toMatch(/^db-backup-init-[0-9a-f]{8}$/);
  const restoreOnly = buildCluster({ restore: { sourceCluster: 'orders', repository: BackupRepository.volume() } }).cluster;
  expect(restoreOnly.backup!.initJobName).toBeUndefined();
  expect(restoreOnly.backup!.cronJobNames).toEqual([]);
  expect(buildCluster().cluster.backup).toBeUndefined();
});

test('a time zone of the database reaches every CronJob of the repository', () => {
  const m = synthCluster({ backup: { repositories: [BackupRepository.volume({ schedules: { full: '@daily', incremental: '0 * * * *', timeZone: 'Europe/Berlin' } })] } });
  // The repository's CronJobs (the CA publisher's CronJob keeps the default time zone).
  const cronJobs = m.filter((o) => o.kind === 'CronJob' && /-repo\d+-/.test(o.metadata.name));
  expect(cronJobs.length).toBe(2);
  expect(cronJobs.map((c) => c.spec.timeZone)).toEqual(['Europe/Berlin', 'Europe/Berlin']);
});
