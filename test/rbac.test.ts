/**
 * RBAC: only namespaced Roles, no wildcards, and every granted (resource, verb) traced to the
 * component that uses it (Role -> RoleBinding -> ServiceAccount -> the pods running as it)
 * through the table below, with the reason. A grant not in the table fails; so does a table
 * entry a component no longer gets.
 */
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { PatroniDcs, PostgresCluster } from '../src';
import { allCases } from './helpers/cases';
import { Manifest, find, ofKind, podTemplates, synthCluster } from './helpers/manifests';

/** Which pods use a Role. */
type Component = 'patroni' | 'credentials-job' | 'ca-publisher' | 'config-job';
/**
 * Patroni's DCS mode a grant belongs to (`any`: both; `tls`: both, only with TLS on;
 * `rotation`: both, only with a user's passwordRotation declared).
 */
type Mode = 'configmaps' | 'endpoints' | 'any' | 'tls' | 'rotation';

interface Grant {
  readonly component: Component;
  readonly mode: Mode;
  readonly resource: string;
  readonly verb: string;
  /** The resource's API group; '' (core) unless set. */
  readonly apiGroup?: string;
  /**
   * The grant is limited to these names (`job-secrets`: exactly the Secrets the Job creates;
   * `ca-configmap`: the ConfigMap the CA publisher fills; `rotated-secrets`: exactly the Secrets
   * whose password the Job is asked to rotate; `member-statefulsets`, `member-pods`: the member
   * StatefulSets and their pods).
   */
  readonly resourceNames?: 'job-secrets' | 'ca-configmap' | 'rotated-secrets' | 'member-statefulsets' | 'member-pods';
  readonly reason: string;
}

/** Every grant the library may emit, and why. */
const GRANTS: readonly Grant[] = [
  // Patroni, ConfigMaps DCS: leader lock and cluster state in <cluster>-leader/-config/-sync/-failover.
  { component: 'patroni', mode: 'configmaps', resource: 'configmaps', verb: 'create', reason: 'creates the leader, config, sync and failover ConfigMaps on first start' },
  { component: 'patroni', mode: 'configmaps', resource: 'configmaps', verb: 'get', reason: 'reads the leader lock and the cluster configuration' },
  { component: 'patroni', mode: 'configmaps', resource: 'configmaps', verb: 'list', reason: 'lists the cluster\'s ConfigMaps by scope label to load the DCS state' },
  { component: 'patroni', mode: 'configmaps', resource: 'configmaps', verb: 'patch', reason: 'takes and renews the leader lock (annotations, optimistic concurrency)' },
  { component: 'patroni', mode: 'configmaps', resource: 'configmaps', verb: 'watch', reason: 'watches the leader ConfigMap to react to a lost leader at once' },
  // Patroni, Endpoints DCS.
  { component: 'patroni', mode: 'endpoints', resource: 'endpoints', verb: 'create', reason: 'creates the leader, config, sync and failover Endpoints' },
  { component: 'patroni', mode: 'endpoints', resource: 'endpoints', verb: 'get', reason: 'reads the leader lock and the cluster configuration' },
  { component: 'patroni', mode: 'endpoints', resource: 'endpoints', verb: 'list', reason: 'lists the cluster\'s Endpoints by scope label' },
  { component: 'patroni', mode: 'endpoints', resource: 'endpoints', verb: 'patch', reason: 'takes and renews the leader lock; the leader publishes its address' },
  { component: 'patroni', mode: 'endpoints', resource: 'endpoints', verb: 'watch', reason: 'watches the leader Endpoints' },
  { component: 'patroni', mode: 'endpoints', resource: 'services', verb: 'create', reason: 'creates the Service that keeps its leader Endpoints from being garbage-collected' },
  // Patroni, both modes: member state and the role label on its own pod; its on_role_change
  // callback (on-role-change.py) takes the leader label off a lost leader's pod with the same grants.
  { component: 'patroni', mode: 'any', resource: 'pods', verb: 'list', reason: 'lists the members by scope label (the callback: the pods with the leader label)' },
  { component: 'patroni', mode: 'any', resource: 'pods', verb: 'patch', reason: 'sets the role label and its member state annotation (the callback: removes a lost leader\'s leader label)' },
  { component: 'patroni', mode: 'any', resource: 'pods', verb: 'watch', reason: 'follows the other members' },
  // The credentials Job.
  { component: 'credentials-job', mode: 'any', resource: 'secrets', verb: 'create', reason: 'creates a missing credential Secret (create cannot be limited to names)' },
  {
    component: 'credentials-job',
    mode: 'any',
    resource: 'secrets',
    verb: 'get',
    resourceNames: 'job-secrets',
    reason: 'checks whether each of its Secrets exists (credentials, user connection Secrets, the pooler\'s auth Secret), and only those',
  },
  {
    component: 'credentials-job',
    mode: 'rotation',
    resource: 'secrets',
    verb: 'update',
    resourceNames: 'rotated-secrets',
    reason: 'writes the new password into a user\'s Secret whose declared passwordRotation is above the one it records, and only those',
  },
  // The CA publisher (TLS on): reads no Secret (the kubelet mounts the ca.crt item), fills one ConfigMap.
  { component: 'ca-publisher', mode: 'tls', resource: 'configmaps', verb: 'get', resourceNames: 'ca-configmap', reason: 'compares the published certificate with the current one' },
  { component: 'ca-publisher', mode: 'tls', resource: 'configmaps', verb: 'patch', resourceNames: 'ca-configmap', reason: 'writes the CA certificate (alone) into the ConfigMap clients mount' },
  // The config Job (and the restart CronJob's Jobs): rollouts of changed pod templates.
  {
    component: 'config-job',
    mode: 'any',
    apiGroup: 'apps',
    resource: 'statefulsets',
    verb: 'get',
    resourceNames: 'member-statefulsets',
    reason: 'reads whether each member StatefulSet carries the Job\'s pod template, and its update revision',
  },
  { component: 'config-job', mode: 'any', resource: 'pods', verb: 'list', reason: 'the members\' revisions and readiness (list cannot be limited to names)' },
  {
    component: 'config-job',
    mode: 'any',
    resource: 'pods/eviction',
    verb: 'create',
    resourceNames: 'member-pods',
    reason: 'replaces an out-of-date member through the eviction API, which the PodDisruptionBudget may refuse',
  },
  {
    component: 'config-job',
    mode: 'any',
    apiGroup: 'batch',
    resource: 'jobs',
    verb: 'list',
    reason: 'waits for the older unfinished runs of its program (the Job of a change, the CronJobs\' runs) before it acts',
  },
];

const grantKey = (g: { component: string; resource: string; verb: string }) => `${g.component} ${g.resource} ${g.verb}`;

/** The Patroni DCS mode of an output, from its member configuration. */
function modeOf(manifests: Manifest[]): 'configmaps' | 'endpoints' {
  const sts = ofKind(manifests, 'StatefulSet')[0];
  const cfg = parse(find(manifests, 'ConfigMap', `${sts.metadata.name}-config`).data['patroni.yaml']);
  return cfg.kubernetes.use_endpoints ? 'endpoints' : 'configmaps';
}

/** The credentials Job (the only Job with a ServiceAccount). */
function credentialsJob(manifests: Manifest[]): Manifest {
  const jobs = ofKind(manifests, 'Job').filter((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-credentials');
  if (jobs.length !== 1) throw new Error(`expected one credentials Job, found ${jobs.length}`);
  return jobs[0];
}

/** Whether TLS is on: the members mount a server certificate. */
function tlsOn(manifests: Manifest[]): boolean {
  return podTemplates(manifests).some((t) => (t.spec.volumes ?? []).some((v: any) => v.name === 'tls-server'));
}

/** The ConfigMap the CA publisher fills (its CA_CONFIGMAP env var). */
function caConfigMap(manifests: Manifest[]): string | undefined {
  const t = podTemplates(manifests).find((x) => x.metadata?.labels?.['app.kubernetes.io/name'] === 'postgresql-ca');
  return t?.spec.containers[0].env.find((e: any) => e.name === 'CA_CONFIGMAP')?.value;
}

/** The member StatefulSets and their pods, by name. */
function memberStatefulSets(manifests: Manifest[]): string[] {
  return ofKind(manifests, 'StatefulSet').filter((s) => (s.spec.template.spec.volumes ?? []).some((v: any) => v.name === 'patroni-config')).map((s) => s.metadata.name);
}
function memberPods(manifests: Manifest[]): string[] {
  return ofKind(manifests, 'StatefulSet').filter((s) => memberStatefulSets(manifests).includes(s.metadata.name))
    .flatMap((s) => Array.from({ length: s.spec.replicas }, (_, i) => `${s.metadata.name}-${i}`));
}

/** The Secrets the credentials Job creates (its SECRETS env var). */
function jobSecrets(manifests: Manifest[]): string[] {
  const job = credentialsJob(manifests);
  const env = job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'SECRETS');
  return String(env.value).split(/\s+/).filter(Boolean).map((p) => p.split('=')[0]);
}

/** The Secrets the credentials Job rotates (its SECRET_ROTATIONS env var). */
function rotatedSecrets(manifests: Manifest[]): string[] {
  const env = credentialsJob(manifests).spec.template.spec.containers[0].env.find((e: any) => e.name === 'SECRET_ROTATIONS');
  return env ? Object.keys(JSON.parse(env.value)) : [];
}

/** The component a Role serves, traced through its RoleBindings to the pods of its ServiceAccounts. */
function componentOf(manifests: Manifest[], role: Manifest): Component {
  const bindings = ofKind(manifests, 'RoleBinding').filter((b) => b.roleRef.kind === 'Role' && b.roleRef.name === role.metadata.name);
  if (bindings.length === 0) throw new Error(`Role/${role.metadata.name} is bound to nothing`);
  const accounts = new Set(bindings.flatMap((b) => b.subjects.filter((s: any) => s.kind === 'ServiceAccount').map((s: any) => s.name)));
  const pods = podTemplates(manifests).filter((t) => accounts.has(t.spec.serviceAccountName));
  const kinds = new Set(pods.map((t) => t.owner.kind));
  if (pods.length > 0 && pods.every((t) => t.metadata?.labels?.['app.kubernetes.io/name'] === 'postgresql-ca')) return 'ca-publisher';
  if (pods.length > 0 && pods.every((t) => t.metadata?.labels?.['app.kubernetes.io/name'] === 'postgresql-config')) return 'config-job';
  if (kinds.size === 1 && kinds.has('StatefulSet')) return 'patroni';
  if (kinds.size === 1 && kinds.has('Job')) return 'credentials-job';
  throw new Error(`Role/${role.metadata.name} is used by pods of ${[...kinds].join(', ') || 'nothing'}`);
}

/** Every granted (component, resource, verb) of an output, checked against the table; returns problems. */
function rbacProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const mode = modeOf(manifests);
  const expected = GRANTS.filter((g) => g.mode === 'any' || g.mode === mode || (g.mode === 'tls' && tlsOn(manifests))
    || (g.mode === 'rotation' && rotatedSecrets(manifests).length > 0));
  const seen = new Set<string>();
  for (const role of ofKind(manifests, 'Role')) {
    const component = componentOf(manifests, role);
    for (const rule of role.rules) {
      if ((rule.apiGroups ?? []).length !== 1) problems.push(`Role/${role.metadata.name}: a rule must name one API group`);
      const group = (rule.apiGroups ?? [])[0];
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs ?? []) {
          const g = expected.find((x) => grantKey(x) === grantKey({ component, resource, verb }) && (x.apiGroup ?? '') === group);
          const at = `Role/${role.metadata.name} (${component}): ${verb} ${resource}`;
          if (!g) {
            problems.push(`${at} is not in the table for the ${mode} DCS`);
            continue;
          }
          seen.add(grantKey(g));
          const names = rule.resourceNames as string[] | undefined;
          if (g.resourceNames === 'job-secrets') {
            if (!names) problems.push(`${at} must be limited to the Job's Secrets`);
            else if ([...names].sort().join() !== jobSecrets(manifests).sort().join()) problems.push(`${at} names ${names.join(', ')}, not the Job's Secrets`);
          } else if (g.resourceNames === 'rotated-secrets') {
            if (!names || [...names].sort().join() !== rotatedSecrets(manifests).sort().join()) problems.push(`${at} must be limited to the rotated Secrets`);
          } else if (g.resourceNames === 'member-statefulsets' || g.resourceNames === 'member-pods') {
            const want = g.resourceNames === 'member-statefulsets' ? memberStatefulSets(manifests) : memberPods(manifests);
            if (!names || [...names].sort().join() !== [...want].sort().join()) problems.push(`${at} must be limited to ${want.join(', ')}`);
          } else if (g.resourceNames === 'ca-configmap') {
            if (!names || names.join() !== caConfigMap(manifests)) problems.push(`${at} must be limited to the CA ConfigMap`);
          } else if (names !== undefined) {
            problems.push(`${at} has unexpected resourceNames`);
          }
        }
      }
      if (rule.nonResourceURLs !== undefined) problems.push(`Role/${role.metadata.name}: nonResourceURLs in a Role`);
    }
  }
  for (const g of expected) if (!seen.has(grantKey(g))) problems.push(`${grantKey(g)} is in the table but not granted`);
  return problems;
}

describe('the grant table', () => {
  test('every entry has a reason and no entry repeats', () => {
    for (const g of GRANTS) expect(g.reason.length).toBeGreaterThan(10);
    const keys = GRANTS.map((g) => `${g.mode} ${grantKey(g)}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });
});

describe.each(allCases().map((c) => [c.name, c] as const))('RBAC: %s', (_name, c) => {
  const manifests = c.manifests();

  test('no ClusterRole or ClusterRoleBinding; every Role and RoleBinding is in the chart\'s namespace', () => {
    expect(ofKind(manifests, 'ClusterRole')).toEqual([]);
    expect(ofKind(manifests, 'ClusterRoleBinding')).toEqual([]);
    // The Namespace itself (createNamespace) is cluster-scoped: it has none.
    const namespaces = new Set(manifests.filter((m) => m.kind !== 'Namespace').map((m) => m.metadata.namespace));
    expect(namespaces.size).toBe(1);
    for (const b of ofKind(manifests, 'RoleBinding')) {
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: expect.any(String) });
      for (const s of b.subjects) {
        expect(s.kind).toBe('ServiceAccount');
        expect(s.namespace === undefined || namespaces.has(s.namespace)).toBe(true);
      }
    }
  });

  test('no wildcard in apiGroups, resources, verbs or resourceNames', () => {
    const wild: string[] = [];
    for (const role of ofKind(manifests, 'Role')) {
      for (const [i, rule] of role.rules.entries()) {
        for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames']) {
          for (const v of rule[field] ?? []) if (String(v).includes('*')) wild.push(`Role/${role.metadata.name} rules[${i}].${field}: ${v}`);
        }
      }
    }
    expect(wild).toEqual([]);
  });

  test('every (resource, verb) is in the table for its component and DCS mode, and every table entry is granted', () => {
    expect(rbacProblems(manifests)).toEqual([]);
  });

  test('three Roles, Patroni\'s, the credentials Job\'s and the config Job\'s, and with TLS the CA publisher\'s', () => {
    expect(ofKind(manifests, 'Role').map((r) => componentOf(manifests, r)).sort())
      .toEqual([...(tlsOn(manifests) ? ['ca-publisher'] : []), 'config-job', 'credentials-job', 'patroni']);
  });

  test('every other pod (the access Job, the poolers, the backup Jobs) runs with no ServiceAccount of its own and no token', () => {
    const bound = new Set(ofKind(manifests, 'RoleBinding').flatMap((b) => b.subjects.map((x: any) => x.name)));
    for (const t of podTemplates(manifests)) {
      const who = `${t.owner.kind}/${t.owner.metadata.name}`;
      const isPatroni = t.owner.kind === 'StatefulSet' && (t.spec.volumes ?? []).some((v: any) => v.name === 'patroni-config');
      const isCredentials = t.owner.kind === 'Job' && t.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-credentials';
      const isCaPublisher = t.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-ca';
      const isConfig = t.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-config';
      if (isPatroni || isCredentials || isCaPublisher || isConfig) {
        expect([who, bound.has(t.spec.serviceAccountName)]).toEqual([who, true]);
        continue;
      }
      expect([who, t.spec.serviceAccountName, t.spec.automountServiceAccountToken]).toEqual([who, undefined, false]);
    }
  });

  test('the credentials Job may get exactly the Secrets it creates: credentials, every login user\'s and the pooler\'s', () => {
    const role = find(manifests, 'Role', `${credentialsJob(manifests).metadata.name.replace(/-[0-9a-f]{8}$/, '')}`);
    const get = role.rules.find((r: any) => r.verbs.includes('get'));
    expect([...get.resourceNames].sort()).toEqual(jobSecrets(manifests).sort());
    const access = ofKind(manifests, 'Job').find((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-access');
    const accessSecrets: string[] = access
      ? access.spec.template.spec.containers[0].env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.valueFrom.secretKeyRef.name)
      : [];
    // Every Secret the access Job reads that the user did not pass is one the credentials Job creates and may get.
    for (const name of accessSecrets.filter((n) => !c.userSecrets.includes(n))) expect(get.resourceNames).toContain(name);
  });
});

describe('the credentials Job\'s grant with users and a pooler', () => {
  test('get names the user Secrets (with _ turned into -) and the pgbouncer Secret; create stays unrestricted by name', () => {
    const m = synthCluster({
      users: [{ name: 'orders_app' }, { name: 'orders_owner', login: false }, { name: 'reporter' }],
      pooler: {},
    });
    const role = find(m, 'Role', 'db-credentials');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        verbs: ['get'],
        resourceNames: ['db-superuser', 'db-replication', 'db-monitoring', 'db-rewind', 'db-access', 'db-user-orders-app', 'db-user-reporter', 'db-pgbouncer'],
      },
    ]);
    expect(rbacProblems(m)).toEqual([]);
  });

  test('users added after construction are in the grant too (rendered at synth)', () => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'db');
    cluster.addUser({ name: 'late_user' });
    const m = Testing.synth(chart) as Manifest[];
    expect(find(m, 'Role', 'db-credentials').rules[1].resourceNames).toContain('db-user-late-user');
    expect(rbacProblems(m)).toEqual([]);
  });

  test('the access Job has no ServiceAccount, no token, and no Role or RoleBinding names it', () => {
    const m = synthCluster({ users: [{ name: 'app_user' }], pooler: {} });
    const access = ofKind(m, 'Job').find((j) => j.metadata.name.startsWith('db-access-'))!;
    expect(access.spec.template.spec.serviceAccountName).toBeUndefined();
    expect(access.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(ofKind(m, 'ServiceAccount').map((s) => s.metadata.name).sort()).toEqual(['db', 'db-config', 'db-credentials', 'db-publish-ca']);
    expect(ofKind(m, 'Role').map((r) => componentOf(m, r)).sort()).toEqual(['ca-publisher', 'config-job', 'credentials-job', 'patroni']);
  });
});

describe('both DCS modes are covered', () => {
  test.each([[PatroniDcs.CONFIGMAPS, 'configmaps'], [PatroniDcs.ENDPOINTS, 'endpoints']] as const)('%s', (dcs, mode) => {
    const m = synthCluster({ dcs });
    expect(modeOf(m)).toBe(mode);
    expect(rbacProblems(m)).toEqual([]);
  });
});

describe('the tracer catches what it should', () => {
  const fresh = () => JSON.parse(JSON.stringify(synthCluster())) as Manifest[];

  test('a verb not in the table', () => {
    const m = fresh();
    find(m, 'Role', 'db-patroni').rules.push({ apiGroups: [''], resources: ['pods'], verbs: ['delete'] });
    expect(rbacProblems(m)).toEqual(['Role/db-patroni (patroni): delete pods is not in the table for the configmaps DCS']);
  });

  test('a grant of the other DCS mode', () => {
    const m = fresh();
    find(m, 'Role', 'db-patroni').rules.push({ apiGroups: [''], resources: ['services'], verbs: ['create'] });
    expect(rbacProblems(m)).toEqual(['Role/db-patroni (patroni): create services is not in the table for the configmaps DCS']);
  });

  test('a grant given to the wrong component', () => {
    const m = fresh();
    find(m, 'Role', 'db-credentials').rules.push({ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] });
    expect(rbacProblems(m)).toEqual(['Role/db-credentials (credentials-job): get configmaps is not in the table for the configmaps DCS']);
  });

  test('secrets get without resourceNames', () => {
    const m = fresh();
    delete find(m, 'Role', 'db-credentials').rules[1].resourceNames;
    expect(rbacProblems(m)).toEqual(['Role/db-credentials (credentials-job): get secrets must be limited to the Job\'s Secrets']);
  });

  test('a missing grant', () => {
    const m = fresh();
    find(m, 'Role', 'db-patroni').rules.pop();
    expect(rbacProblems(m)).toEqual(['patroni pods list', 'patroni pods patch', 'patroni pods watch']
      .map((k) => `${k} is in the table but not granted`));
  });
});
