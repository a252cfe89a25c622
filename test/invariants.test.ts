/**
 * Cross-object invariants of every synthesized output: what schema validation cannot see
 * (selectors that miss their pods, dangling references, names, RBAC, security, resources).
 */
import { parse } from 'yaml';
import { allCases } from './helpers/cases';
import { synthCluster, Manifest, allContainers, find, ofKind, podTemplates, selects } from './helpers/manifests';
import { runChecks } from '../src/validate';
import { LABEL_NAMED_KINDS, isDnsLabel, isDnsSubdomain, isLabelKey, isLabelValue, isPortName, labelSets } from '../src/validate/names';
import { restrictedViolations } from '../src/validate/pod-security';
import { quantity } from '../src/validate/quantity';
import { certManagerSecrets, danglingReferences, jobCreatedSecrets, references } from '../src/validate/references';
import { resourceProblems } from '../src/validate/resources';
import { secretLeaks } from '../src/validate/secret-scan';
import { probePorts } from '../src/validate/selectors';

const ROLE_LABEL = 'postgres.cdk8s.io/role';

/** A StatefulSet of Patroni members (the backup node is the other kind). */
function isMemberSet(sts: Manifest): boolean {
  return (sts.spec.template.spec.volumes ?? []).some((v: any) => v.name === 'patroni-config');
}

/** The `patroni.yaml` of a member StatefulSet, parsed from its `<sts>-config` ConfigMap. */
function patroniConfigOf(manifests: Manifest[], sts: Manifest): any {
  const configMap = find(manifests, 'ConfigMap', `${sts.metadata.name}-config`);
  const text = configMap.data?.['patroni.yaml'];
  expect(typeof text).toBe('string');
  return parse(text);
}

function portNames(container: any): string[] {
  return (container.ports ?? []).map((p: any) => p.name).filter((n: unknown) => n !== undefined);
}

describe.each(allCases().map((c) => [c.name, c] as const))('invariants: %s', (_name, c) => {
  const manifests = c.manifests();
  const allStatefulSets = ofKind(manifests, 'StatefulSet');
  /** Patroni members; the other StatefulSet is the backup node. */
  const statefulSets = allStatefulSets.filter(isMemberSet);
  const backupNodes = allStatefulSets.filter((s) => !isMemberSet(s));
  const templates = podTemplates(manifests);
  const memberTemplates = templates.filter((t) => t.owner.kind === 'StatefulSet' && isMemberSet(t.owner));
  const deployments = ofKind(manifests, 'Deployment');

  test('has member StatefulSets and Services', () => {
    expect(statefulSets.length).toBeGreaterThanOrEqual(2);
    expect(ofKind(manifests, 'Service').length).toBeGreaterThanOrEqual(3);
  });

  test('every StatefulSet and Deployment selector matches its own pod template', () => {
    for (const owner of [...allStatefulSets, ...deployments]) {
      const own = selects(owner.spec.selector.matchLabels, owner.spec.template.metadata.labels);
      expect([owner.metadata.name, own]).toEqual([owner.metadata.name, true]);
    }
  });

  test('no two Deployments or StatefulSets select each other\'s pods', () => {
    const owners = [...allStatefulSets, ...deployments];
    for (const a of owners) {
      for (const b of owners) {
        if (a === b) continue;
        const selected = selects(a.spec.selector.matchLabels, b.spec.template.metadata.labels);
        expect([a.metadata.name, b.metadata.name, selected]).toEqual([a.metadata.name, b.metadata.name, false]);
      }
    }
  });

  test('every Service selects the pods of some StatefulSet or Deployment, never both; the role label has the Patroni leader/follower value', () => {
    for (const svc of ofKind(manifests, 'Service')) {
      const selector: Record<string, string> = svc.spec.selector ?? {};
      expect(Object.keys(selector).length).toBeGreaterThan(0);
      const { [ROLE_LABEL]: role, ...staticPart } = selector;
      // Deployment pods never carry the role label Patroni sets: they are matched on the whole selector.
      const poolers = deployments.filter((d) => selects(selector, d.spec.template.metadata.labels));
      const matched = (role !== undefined ? statefulSets : allStatefulSets).filter((sts) => selects(staticPart, sts.spec.template.metadata.labels));
      if (matched.length === 0 && poolers.length === 0) {
        throw new Error(`Service/${svc.metadata.name} selects no StatefulSet's or Deployment's pods: ${JSON.stringify(selector)}`);
      }
      if (poolers.length > 0) {
        // A pooler Service: exactly its own Deployment, no member, no role label.
        expect([svc.metadata.name, matched.length, poolers.map((d) => d.metadata.name)]).toEqual([svc.metadata.name, 0, [svc.metadata.name]]);
        expect(role).toBeUndefined();
        continue;
      }
      if (role !== undefined) {
        const configs = matched.map((sts) => patroniConfigOf(manifests, sts));
        for (const cfg of configs) {
          expect(cfg.kubernetes.role_label).toBe(ROLE_LABEL);
          expect([cfg.kubernetes.leader_label_value, cfg.kubernetes.follower_label_value]).toContain(role);
        }
        const k = configs[0].kubernetes;
        if (svc.metadata.name.endsWith('-primary')) expect(role).toBe(k.leader_label_value);
        if (svc.metadata.name.endsWith('-replicas')) expect(role).toBe(k.follower_label_value);
      }
    }
  });

  test('the read-write and read-only Services select by role, the headless Service selects every member', () => {
    const services = ofKind(manifests, 'Service');
    const byRole = services.filter((s) => s.spec.selector?.[ROLE_LABEL] !== undefined);
    expect(byRole.map((s) => s.metadata.name).sort()).toEqual(services.filter((s) => /-(primary|replicas)$/.test(s.metadata.name)).map((s) => s.metadata.name).sort());
    const headless = services.filter((s) => s.spec.clusterIP === 'None' && statefulSets.some((sts) => selects(s.spec.selector, sts.spec.template.metadata.labels)));
    expect(headless).toHaveLength(1);
    for (const sts of statefulSets) {
      expect(sts.spec.serviceName).toBe(headless[0].metadata.name);
      expect(selects(headless[0].spec.selector, sts.spec.template.metadata.labels)).toBe(true);
    }
    // The backup node has its own headless Service (its pod's DNS name), which selects no member.
    for (const node of backupNodes) {
      const own = find(manifests, 'Service', node.spec.serviceName);
      expect(own.spec.clusterIP).toBe('None');
      expect(selects(own.spec.selector, node.spec.template.metadata.labels)).toBe(true);
      for (const sts of statefulSets) expect(selects(own.spec.selector, sts.spec.template.metadata.labels)).toBe(false);
    }
  });

  test('Patroni configs: the scope label and kubernetes.labels are on every member pod; all members agree', () => {
    const configs = statefulSets.map((sts) => [sts, patroniConfigOf(manifests, sts)] as const);
    const scopes = new Set(configs.map(([, cfg]) => cfg.scope));
    expect(scopes.size).toBe(1);
    for (const [sts, cfg] of configs) {
      const labels = sts.spec.template.metadata.labels;
      expect(labels[cfg.kubernetes.scope_label]).toBe(cfg.scope);
      expect(selects(cfg.kubernetes.labels, labels)).toBe(true);
      expect(cfg.kubernetes.leader_label_value).toEqual(expect.any(String));
      expect(cfg.kubernetes.follower_label_value).toEqual(expect.any(String));
      expect(cfg.kubernetes.leader_label_value).not.toBe(cfg.kubernetes.follower_label_value);
      expect(isLabelValue(cfg.kubernetes.leader_label_value) && isLabelValue(cfg.kubernetes.follower_label_value)).toBe(true);
      // The pod template must not fix the role label: Patroni owns it.
      expect(labels[ROLE_LABEL]).toBeUndefined();
      expect(sts.spec.selector.matchLabels[ROLE_LABEL]).toBeUndefined();
    }
    const kube = configs.map(([, cfg]) => JSON.stringify(cfg.kubernetes));
    expect(new Set(kube).size).toBe(1);
  });

  test('Patroni\'s label selector matches none of the library\'s own ConfigMaps (Patroni lists them as DCS objects; `patronictl remove` deletes by it)', () => {
    const cfg = patroniConfigOf(manifests, statefulSets[0]);
    const selector = { ...cfg.kubernetes.labels, [cfg.kubernetes.scope_label]: cfg.scope };
    // In ENDPOINTS mode Kubernetes copies each Service's labels onto its Endpoints, which Patroni lists.
    const kinds = cfg.kubernetes.use_endpoints ? ['Endpoints', 'Service', 'ConfigMap'] : ['ConfigMap'];
    const matched = manifests.filter((o) => kinds.includes(o.kind) && selects(selector, o.metadata.labels));
    expect(matched.map((cm) => cm.metadata.name)).toEqual([]);
    // It still matches every member pod (what Patroni must see).
    for (const t of memberTemplates) expect(selects(selector, t.metadata.labels)).toBe(true);
    expect(cfg.kubernetes.bypass_api_service).toBeUndefined();
  });

  test('all members agree on the cluster-wide settings (bootstrap.dcs), pg_hba and the port', () => {
    const configs = statefulSets.map((sts) => patroniConfigOf(manifests, sts));
    expect(new Set(configs.map((cfg) => JSON.stringify(cfg.bootstrap.dcs))).size).toBe(1);
    expect(new Set(configs.map((cfg) => JSON.stringify(cfg.postgresql.pg_hba))).size).toBe(1);
    expect(new Set(configs.map((cfg) => cfg.postgresql.listen.split(':').pop())).size).toBe(1);
    const port = Number(configs[0].postgresql.listen.split(':').pop());
    for (const sts of statefulSets) {
      expect(sts.spec.template.spec.containers[0].ports.find((p: any) => p.name === 'postgres').containerPort).toBe(port);
    }
    // Every Service in front of members or poolers serves PostgreSQL on the port (the backup node's serves pgBackRest only).
    const backupServices = new Set(backupNodes.map((n) => n.spec.serviceName));
    for (const svc of ofKind(manifests, 'Service').filter((x) => !backupServices.has(x.metadata.name))) {
      expect(svc.spec.ports.find((p: any) => p.name === 'postgres').port).toBe(port);
    }
  });

  test('the read-only Service never routes to members Patroni keeps out of load balancing (delayed replicas)', () => {
    const readOnly = ofKind(manifests, 'Service').filter((s) => s.metadata.name.endsWith('-replicas'));
    for (const svc of readOnly) {
      const { [ROLE_LABEL]: _role, ...staticPart } = svc.spec.selector;
      for (const sts of statefulSets) {
        const cfg = patroniConfigOf(manifests, sts);
        const selected = selects(staticPart, sts.spec.template.metadata.labels);
        expect([sts.metadata.name, selected]).toEqual([sts.metadata.name, !cfg.tags.noloadbalance]);
        // never promoted means never synchronous and never load-balanced either
        if (cfg.tags.nofailover) expect(cfg.tags).toMatchObject({ nosync: true, noloadbalance: true });
        const delay = cfg.postgresql.parameters.recovery_min_apply_delay;
        expect([sts.metadata.name, delay !== undefined]).toEqual([sts.metadata.name, cfg.tags.nofailover === true]);
      }
    }
  });

  test('huge pages: requested equal to the limit exactly when PostgreSQL uses them', () => {
    for (const sts of statefulSets) {
      const r = sts.spec.template.spec.containers[0].resources;
      const huge = patroniConfigOf(manifests, sts).postgresql.parameters.huge_pages;
      expect(r.requests['hugepages-2Mi']).toBe(r.limits['hugepages-2Mi']);
      expect([sts.metadata.name, r.limits['hugepages-2Mi'] !== undefined]).toEqual([sts.metadata.name, huge === 'on']);
    }
  });

  test('every referenced ConfigMap, Secret, ServiceAccount and PersistentVolumeClaim exists', () => {
    expect(danglingReferences(manifests, c.userSecrets)).toEqual([]);
  });

  test('the credentials Job creates exactly the Secrets the pods need (members, poolers, the access Job) and the user did not pass', () => {
    const needed = new Set<string>();
    for (const t of templates) for (const ref of references(t)) if (ref.startsWith('Secret/')) needed.add(ref.slice('Secret/'.length));
    const created = jobCreatedSecrets(manifests);
    const certificates = certManagerSecrets(manifests);
    expect(created.sort()).toEqual([...needed].filter((s) => !c.userSecrets.includes(s) && !certificates.includes(s)).sort());
    const jobs = ofKind(manifests, 'Job');
    const credentialsJobs = jobs.filter((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-credentials');
    const accessJobs = jobs.filter((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-access');
    const backupJobs = jobs.filter((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'pgbackrest');
    expect(credentialsJobs).toHaveLength(created.length > 0 ? 1 : 0);
    expect(accessJobs.length).toBeLessThanOrEqual(1);
    expect(backupJobs.length).toBeLessThanOrEqual(1);
    const caJobs = jobs.filter((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-ca');
    expect(caJobs.length).toBeLessThanOrEqual(1);
    // One config Job per cluster: it applies the cluster-wide settings.
    const configJobs = jobs.filter((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-config');
    expect(configJobs.length).toBe(ofKind(manifests, 'StatefulSet').some((s) => s.metadata.name.endsWith('-primary')) ? 1 : 0);
    expect(jobs.length).toBe(credentialsJobs.length + accessJobs.length + backupJobs.length + caJobs.length + configJobs.length);
    // A user Secret (connection details) or the pooler's Secret is requested only with the access Job that sets its password.
    const declared = created.some((s) => /-user-|-pgbouncer$/.test(s));
    expect(accessJobs.length === 1 || !declared).toBe(true);
    for (const job of credentialsJobs) {
      const sa = job.spec.template.spec.serviceAccountName;
      const binding = ofKind(manifests, 'RoleBinding').find((b) => b.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === sa));
      expect(binding).toBeDefined();
      const role = find(manifests, 'Role', binding!.roleRef.name);
      const getRule = role.rules.find((r: any) => r.verbs.includes('get'));
      expect([...getRule.resourceNames].sort()).toEqual([...created].sort());
    }
  });

  test('each Secret has one creator: the credentials Job, a cert-manager Certificate or the user', () => {
    const creators = [...jobCreatedSecrets(manifests), ...certManagerSecrets(manifests), ...c.userSecrets];
    expect(creators.filter((s, i) => creators.indexOf(s) !== i)).toEqual([]);
  });

  test('the CA\'s key Secret is read by its CA Issuer alone: no pod, ConfigMap or other object names it', () => {
    const caKeySecrets = ofKind(manifests, 'Certificate').filter((cert) => cert.spec.isCA).map((cert) => cert.spec.secretName);
    const strings = (v: unknown): string[] => (typeof v === 'string' ? [v]
      : Array.isArray(v) ? v.flatMap(strings)
        // issuerRef names the CA Issuer (named like its Secret), not the Secret.
        : v && typeof v === 'object' ? Object.entries(v).filter(([k]) => k !== 'issuerRef').flatMap(([, x]) => strings(x)) : []);
    for (const m of manifests) {
      const isCaIssuer = m.kind === 'Issuer' && caKeySecrets.includes(m.spec?.ca?.secretName);
      const isCaCertificate = m.kind === 'Certificate' && m.spec?.isCA;
      if (isCaIssuer || isCaCertificate) continue;
      const named = strings({ spec: m.spec, data: m.data, template: m.template }).filter((v) => caKeySecrets.includes(v));
      expect([`${m.kind}/${m.metadata.name}`, named]).toEqual([`${m.kind}/${m.metadata.name}`, []]);
    }
  });

  test('with TLS, the CA certificate clients mount is a ConfigMap with no key material, filled by a publisher that reads no Secret', () => {
    const publishers = podTemplates(manifests).filter((t) => t.spec.containers.some((ctr: any) => ctr.name === 'publish-ca'));
    if (ofKind(manifests, 'Certificate').length === 0 && !memberTemplates.some((t) => (t.spec.volumes ?? []).some((v: any) => v.name === 'tls-server'))) {
      expect(publishers).toEqual([]);
      return;
    }
    expect(publishers.length).toBe(2);
    for (const t of publishers) {
      const cm = find(manifests, 'ConfigMap', t.spec.containers[0].env.find((e: any) => e.name === 'CA_CONFIGMAP').value);
      expect(cm.data).toBeUndefined();
      expect((t.spec.volumes ?? []).map((v: any) => v.secret?.items)).toEqual([[{ key: 'ca.crt', path: 'ca.crt' }]]);
      const role = find(manifests, 'Role', t.spec.serviceAccountName);
      expect(role.rules.flatMap((r: any) => r.resources)).toEqual(['configmaps']);
    }
  });

  test('every Job is deleted a day after it finishes (ttlSecondsAfterFinished); CronJobs\' Jobs are bounded by their history limits', () => {
    for (const job of ofKind(manifests, 'Job')) expect([job.metadata.name, job.spec.ttlSecondsAfterFinished]).toEqual([job.metadata.name, 86400]);
    for (const cron of ofKind(manifests, 'CronJob')) {
      expect(cron.spec.jobTemplate.spec.ttlSecondsAfterFinished).toBeUndefined();
      expect(cron.spec.successfulJobsHistoryLimit).toBeLessThanOrEqual(3);
      expect(cron.spec.failedJobsHistoryLimit).toBeLessThanOrEqual(3);
    }
  });

  test('every binary is run by its absolute path, with a PATH of image directories only (never a writable volume)', () => {
    const writable = ['/pgdata', '/tmp', '/dev/shm', '/pgbackrest'];
    for (const t of templates) {
      const mounted = (t.spec.containers ?? []).concat(t.spec.initContainers ?? []);
      for (const ctr of mounted) {
        const who = `${t.owner.kind}/${t.owner.metadata.name} ${ctr.name}`;
        if (ctr.command) expect([who, ctr.command[0]]).toEqual([who, expect.stringMatching(/^\//)]);
        const path = (ctr.env ?? []).find((e: any) => e.name === 'PATH')?.value;
        if (ctr.image === memberTemplates[0]?.spec.containers[0].image) expect([who, typeof path]).toEqual([who, 'string']);
        for (const dir of path ? String(path).split(':') : []) {
          expect([who, dir]).toEqual([who, expect.stringMatching(/^\//)]);
          expect([who, writable.some((w) => dir === w || dir.startsWith(`${w}/`))]).toEqual([who, false]);
        }
      }
    }
    // The commands Patroni and PostgreSQL run (archiving, replicas from the repository, restore_command) too.
    for (const sts of statefulSets) {
      const cfg = patroniConfigOf(manifests, sts);
      const commands = [
        cfg.postgresql.parameters.archive_command, cfg.postgresql.pgbackrest?.command, cfg.postgresql.recovery_conf?.restore_command,
        cfg.bootstrap.pgbackrest_restore?.command, cfg.bootstrap.pgbackrest_restore?.recovery_conf?.restore_command, cfg.bootstrap.post_bootstrap,
      ].filter((x) => x !== undefined);
      for (const cmd of commands) expect([sts.metadata.name, cmd]).toEqual([sts.metadata.name, expect.stringMatching(/^\//)]);
    }
  });

  test('every volume mount names a volume or a claim template', () => {
    for (const t of templates) {
      const volumes = new Set<string>([
        ...(t.spec.volumes ?? []).map((v: any) => v.name),
        ...(t.owner.spec.volumeClaimTemplates ?? []).map((v: any) => v.metadata.name),
      ]);
      for (const ctr of allContainers(t.spec)) {
        for (const mount of ctr.volumeMounts ?? []) expect(volumes.has(mount.name)).toBe(true);
      }
    }
  });

  test('every RoleBinding binds an emitted Role to emitted ServiceAccounts', () => {
    for (const b of ofKind(manifests, 'RoleBinding')) {
      expect(b.roleRef.kind).toBe('Role');
      expect(b.roleRef.apiGroup).toBe('rbac.authorization.k8s.io');
      find(manifests, 'Role', b.roleRef.name);
      for (const s of b.subjects) {
        expect(s.kind).toBe('ServiceAccount');
        find(manifests, 'ServiceAccount', s.name);
      }
    }
  });

  test('every named probe port and Service targetPort exists on the container', () => {
    for (const t of templates) {
      for (const ctr of allContainers(t.spec)) {
        for (const port of probePorts(ctr)) {
          if (typeof port === 'string') expect(portNames(ctr)).toContain(port);
          else expect((ctr.ports ?? []).map((p: any) => p.containerPort)).toContain(port);
        }
      }
    }
    for (const svc of ofKind(manifests, 'Service')) {
      const { [ROLE_LABEL]: _role, ...staticPart } = svc.spec.selector ?? {};
      const matched = templates.filter((t) => (t.owner.kind === 'StatefulSet' && (_role === undefined || isMemberSet(t.owner)) && selects(staticPart, t.metadata.labels))
        || (t.owner.kind === 'Deployment' && selects(svc.spec.selector, t.metadata.labels)));
      expect(matched.length).toBeGreaterThan(0);
      for (const p of svc.spec.ports) {
        const target = p.targetPort ?? p.port;
        for (const t of matched) {
          const containers = t.spec.containers;
          if (typeof target === 'string') expect(containers.flatMap(portNames)).toContain(target);
          else expect(containers.flatMap((x: any) => (x.ports ?? []).map((q: any) => q.containerPort))).toContain(target);
        }
      }
    }
  });

  test('container, port and volume names are valid', () => {
    for (const t of templates) {
      const ctrs = allContainers(t.spec);
      expect(new Set(ctrs.map((x) => x.name)).size).toBe(ctrs.length);
      for (const ctr of ctrs) {
        expect(isDnsLabel(ctr.name)).toBe(true);
        for (const name of portNames(ctr)) {
          expect([name, isPortName(name)]).toEqual([name, true]);
        }
      }
      for (const v of t.spec.volumes ?? []) expect(isDnsLabel(v.name)).toBe(true);
    }
  });

  test('every object name is a valid DNS-1123 label or subdomain as its kind requires', () => {
    const bad: string[] = [];
    for (const m of manifests) {
      const ok = LABEL_NAMED_KINDS.has(m.kind) ? isDnsLabel(m.metadata.name) : isDnsSubdomain(m.metadata.name);
      if (!ok) bad.push(`${m.kind}/${m.metadata.name}`);
      if (m.metadata.namespace !== undefined && !isDnsLabel(m.metadata.namespace)) bad.push(`${m.kind}/${m.metadata.name} namespace`);
    }
    // StatefulSet pods are `<name>-<ordinal>` and carry a controller-revision-hash label `<name>-<hash>`.
    for (const sts of statefulSets) if (sts.metadata.name.length > 52) bad.push(`StatefulSet/${sts.metadata.name} too long`);
    expect(bad).toEqual([]);
  });

  test('every label key and value is valid', () => {
    const bad: string[] = [];
    for (const m of manifests) {
      for (const [where, labels] of labelSets(m)) {
        for (const [k, v] of Object.entries(labels)) {
          if (!isLabelKey(k) || !isLabelValue(v)) bad.push(`${where}: ${k}=${v}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  test('no two objects share kind and name', () => {
    const keys = manifests.map((m) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`);
    const dupes = keys.filter((k, i) => keys.indexOf(k) !== i);
    expect(dupes).toEqual([]);
  });

  test('the PodDisruptionBudget selects every member and allows one down', () => {
    const pdbs = ofKind(manifests, 'PodDisruptionBudget');
    expect(pdbs).toHaveLength(1);
    const pdb = pdbs[0];
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeUndefined();
    for (const sts of statefulSets) expect(selects(pdb.spec.selector.matchLabels, sts.spec.template.metadata.labels)).toBe(true);
  });

  test('member selectors (PodDisruptionBudget, member Services) select only member pods; no selector selects a Job\'s pods', () => {
    // A maxUnavailable budget that covers a Job's pod cannot be computed (Jobs have no scale
    // subresource), so the disruption controller allows no eviction at all.
    const poolerServices = new Set([...deployments, ...backupNodes].map((d) => d.spec.serviceName ?? d.metadata.name));
    const selectors: Array<[string, Record<string, string>]> = [
      ...ofKind(manifests, 'PodDisruptionBudget').map((p) => [`PodDisruptionBudget/${p.metadata.name}`, p.spec.selector.matchLabels] as [string, any]),
      ...ofKind(manifests, 'Service').filter((s) => !poolerServices.has(s.metadata.name))
        .map((s) => [`Service/${s.metadata.name}`, s.spec.selector] as [string, any]),
    ];
    for (const s of ofKind(manifests, 'Service').filter((x) => poolerServices.has(x.metadata.name))) {
      for (const t of templates.filter((x) => x.owner.kind === 'Job')) expect(selects(s.spec.selector, t.metadata.labels)).toBe(false);
    }
    const wrong: string[] = [];
    for (const [who, selector] of selectors) {
      for (const t of templates.filter((x) => !(x.owner.kind === 'StatefulSet' && isMemberSet(x.owner)))) {
        if (selects(selector, t.metadata.labels)) wrong.push(`${who} selects the pods of ${t.owner.kind}/${t.owner.metadata.name}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('every container (init containers and Jobs too) has cpu and memory requests and limits, limits >= requests', () => {
    // The same rule `validate` applies (src/validate/resources.ts), on every container of every pod template.
    expect(resourceProblems(manifests)).toEqual([]);
    const checked = templates.reduce((n, t) => n + allContainers(t.spec).length, 0);
    // the Job's container, both member containers and the replicas' init container at least
    expect(checked).toBeGreaterThanOrEqual(templates.length);
    // the credentials Job always exists: it creates the monitoring Secret at least
    expect(templates.some((t) => t.owner.kind === 'Job')).toBe(true);
  });

  test('the postgres container is Guaranteed QoS (requests == limits) unless the case asks for less', () => {
    const burstable = c.burstablePostgres ?? [];
    for (const t of memberTemplates) {
      const pg = t.spec.containers.find((x: any) => x.name === 'postgres');
      expect(pg).toBeDefined();
      const { requests, limits } = pg.resources;
      const equal = ['cpu', 'memory'].every((res) => quantity(requests[res]) === quantity(limits[res]));
      expect([t.owner.metadata.name, equal]).toEqual([t.owner.metadata.name, !burstable.includes(t.owner.metadata.name)]);
    }
    for (const name of burstable) expect(memberTemplates.map((t) => t.owner.metadata.name)).toContain(name);
  });

  test('every pod meets the Pod Security Standards restricted profile, rule by rule', () => {
    expect(templates.length).toBeGreaterThanOrEqual(3);
    expect(templates.flatMap((t) => restrictedViolations(t.owner, t.spec))).toEqual([]);
  });

  test('/dev/shm is a Memory emptyDir with a size limit in every member pod', () => {
    for (const t of memberTemplates) {
      const mount = t.spec.containers[0].volumeMounts.find((m: any) => m.mountPath === '/dev/shm');
      expect(mount).toBeDefined();
      const volume = t.spec.volumes.find((v: any) => v.name === mount.name);
      expect(volume.emptyDir.medium).toBe('Memory');
      const size = quantity(volume.emptyDir.sizeLimit);
      expect(size).toBeGreaterThanOrEqual(64 * 1024 ** 2);
      expect(size).toBeLessThan(quantity(t.spec.containers[0].resources.limits.memory));
    }
  });

  test('no Secret objects, no password-like literals in env or ConfigMap data, no key material', () => {
    expect(secretLeaks(manifests)).toEqual([]);
  });

  test('validate (every check of the CLI) finds no error; it warns only about the Secrets the user passed in', () => {
    const findings = runChecks(manifests);
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    const warned = findings.filter((f) => f.severity === 'warning').map((f) => /-> Secret\/([^:]+):/.exec(f.message)?.[1]);
    for (const name of warned) expect(c.userSecrets).toContain(name);
  });
});

describe('the restricted-profile checker itself', () => {
  /** The primary's pod spec from a default cluster, deep-copied so a test can break it. */
  const primary = () => {
    const sts = find(synthCluster(), 'StatefulSet', 'db-primary');
    return { owner: sts, spec: JSON.parse(JSON.stringify(sts.spec.template.spec)) };
  };
  const container = (spec: any, name: string) => spec.containers.find((x: any) => x.name === name);

  test('passes an unmodified member pod', () => {
    const { owner, spec } = primary();
    expect(restrictedViolations(owner, spec)).toEqual([]);
  });

  test('names the object, the container and the rule: allowPrivilegeEscalation', () => {
    const { owner, spec } = primary();
    container(spec, 'postgres').securityContext.allowPrivilegeEscalation = true;
    expect(restrictedViolations(owner, spec)).toEqual(['StatefulSet/db-primary container postgres: allowPrivilegeEscalation must be false']);
  });

  test('an unset allowPrivilegeEscalation is a violation too', () => {
    const { owner, spec } = primary();
    delete container(spec, 'heartbeat').securityContext.allowPrivilegeEscalation;
    expect(restrictedViolations(owner, spec)).toEqual(['StatefulSet/db-primary container heartbeat: allowPrivilegeEscalation must be false']);
  });

  test.each<[string, (spec: any) => void, string[]]>([
    ['capabilities not dropped', (s) => { container(s, 'postgres').securityContext.capabilities = { drop: ['NET_RAW'] }; },
      ['StatefulSet/db-primary container postgres: capabilities.drop must include ALL']],
    ['a capability added', (s) => { container(s, 'postgres').securityContext.capabilities.add = ['SYS_ADMIN']; },
      ['StatefulSet/db-primary container postgres: capabilities.add must not include SYS_ADMIN']],
    ['privileged', (s) => { container(s, 'postgres').securityContext.privileged = true; },
      ['StatefulSet/db-primary container postgres: privileged must be false']],
    ['runAsNonRoot false on a container', (s) => { container(s, 'metrics').securityContext.runAsNonRoot = false; },
      ['StatefulSet/db-primary container metrics: runAsNonRoot must be true (pod or container)']],
    ['runAsNonRoot at neither level', (s) => {
      delete s.securityContext.runAsNonRoot;
      for (const c of s.containers) delete c.securityContext.runAsNonRoot;
    }, ['postgres', 'heartbeat', 'metrics'].map((c) => `StatefulSet/db-primary container ${c}: runAsNonRoot must be true (pod or container)`)],
    ['seccomp at neither level', (s) => {
      delete s.securityContext.seccompProfile;
      delete container(s, 'postgres').securityContext.seccompProfile;
    }, ['StatefulSet/db-primary container postgres: seccompProfile.type must be RuntimeDefault (pod or container)']],
    ['seccomp Unconfined on a container', (s) => { container(s, 'postgres').securityContext.seccompProfile = { type: 'Unconfined' }; },
      ['StatefulSet/db-primary container postgres: seccompProfile.type must be RuntimeDefault (pod or container)']],
    ['hostNetwork', (s) => { s.hostNetwork = true; }, ['StatefulSet/db-primary: hostNetwork must be false']],
    ['hostPID and hostIPC', (s) => { s.hostPID = true; s.hostIPC = true; },
      ['StatefulSet/db-primary: hostPID must be false', 'StatefulSet/db-primary: hostIPC must be false']],
    ['a hostPort', (s) => { container(s, 'postgres').ports[0].hostPort = 5432; },
      ['StatefulSet/db-primary container postgres: port postgres must not set hostPort']],
    ['a hostPath volume', (s) => { s.volumes.push({ name: 'host', hostPath: { path: '/var/run' } }); },
      ['StatefulSet/db-primary volume host: hostPath volumes are not allowed']],
    ['a disallowed volume type', (s) => { s.volumes.push({ name: 'share', nfs: { server: 'nfs', path: '/' } }); },
      ['StatefulSet/db-primary volume share: nfs volumes are not allowed']],
    ['root user', (s) => { s.securityContext.runAsUser = 0; }, ['StatefulSet/db-primary: runAsUser must not be 0']],
  ])('%s', (_name, breakIt, expected) => {
    const { owner, spec } = primary();
    breakIt(spec);
    expect(restrictedViolations(owner, spec)).toEqual(expected);
  });

  test('pod-level seccomp and runAsNonRoot cover containers that do not set them', () => {
    const { owner, spec } = primary();
    for (const c of spec.containers) {
      delete c.securityContext.seccompProfile;
      delete c.securityContext.runAsNonRoot;
    }
    expect(restrictedViolations(owner, spec)).toEqual([]);
  });

  test('init containers are checked', () => {
    const sts = find(synthCluster(), 'StatefulSet', 'db-replica');
    const spec = JSON.parse(JSON.stringify(sts.spec.template.spec));
    spec.initContainers[0].securityContext.capabilities.drop = [];
    expect(restrictedViolations(sts, spec)).toEqual(['StatefulSet/db-replica container wait-for-leader: capabilities.drop must include ALL']);
  });
});
