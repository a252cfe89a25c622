/**
 * Renewed certificates are loaded: every TLS server of the cluster (Patroni with PostgreSQL, the
 * members' and the backup node's pgBackRest servers, PgBouncer) runs under the reload wrapper,
 * which watches every certificate, key, CA and userlist file the server's configuration names.
 * The wrapper itself is tested in test/scripts/test_reload_on_change.py and, with cert-manager's
 * renewals, in test/e2e/cert-renewal.e2e.test.ts.
 */
import { parse as parseYaml } from 'yaml';
import { BackupRepository, Tls } from '../src';
import { exampleCases, variantCases } from './helpers/cases';
import { Manifest, find, podTemplates, synthCluster } from './helpers/manifests';

const WRAPPER = 'reload-on-change.sh';

/** Files a server's configuration loads that a renewal or a rotation replaces. */
const SERVED_FILE_KEYS = /^\s*(?:certfile|keyfile|cafile|ssl_cert_file|ssl_key_file|ssl_ca_file|sslcert|sslkey|sslrootcert|tls-server-cert-file|tls-server-key-file|tls-server-ca-file|client_tls_cert_file|client_tls_key_file|client_tls_ca_file|server_tls_ca_file|auth_file)\s*[:=]\s*['"]?([^'"\s]+)/gm;

/** The server a container runs, whether or not it is wrapped. */
function serverCommand(command: string[] | undefined): string[] {
  const c = command ?? [];
  return c.some((a) => a.endsWith(`/${WRAPPER}`)) ? c.slice(c.indexOf('--') + 1) : c;
}
// pgBackRest's servers start through the starter script, which adds `server` itself.
const PGBACKREST_STARTER = 'pgbackrest-server.sh';
const isTlsServer = (cmd: string[]) => /\/(patroni|pgbouncer)$/.test(cmd[0] ?? '') || (cmd[1] ?? '').endsWith(`/${PGBACKREST_STARTER}`);

function mountedConfigMapText(manifests: Manifest[], spec: any, container: any): string {
  let text = '';
  for (const vm of container.volumeMounts ?? []) {
    const cm = spec.volumes?.find((v: any) => v.name === vm.name)?.configMap;
    if (!cm || cm.name.endsWith('-scripts')) continue;
    const data = find(manifests, 'ConfigMap', cm.name).data ?? {};
    const keys: string[] = cm.items ? cm.items.map((i: any) => i.key) : Object.keys(data);
    text += keys.map((k) => data[k]).join('\n');
  }
  return text;
}

describe.each([...exampleCases(), ...variantCases()])('$name', ({ manifests: synth }) => {
  const manifests = synth();
  const tlsOn = manifests.some((m) => m.kind === 'Certificate') || podTemplates(manifests).some((t) => t.spec.volumes?.some((v: any) => v.name === 'tls-server'));

  test('every TLS server runs under the reload wrapper, which watches every file its configuration loads', () => {
    let servers = 0;
    for (const t of podTemplates(manifests)) {
      for (const c of t.spec.containers) {
        const server = serverCommand(c.command);
        if (!isTlsServer(server)) continue;
        const wrapped = c.command[1]?.endsWith(`/${WRAPPER}`) === true;
        const files = [...mountedConfigMapText(manifests, t.spec, c).matchAll(SERVED_FILE_KEYS)].map((m) => m[1]);
        const where = `${t.owner.kind}/${t.owner.metadata.name} ${c.name}`;
        if (!tlsOn && files.length === 0) continue;
        servers++;
        expect({ where, wrapped }).toEqual({ where, wrapped: true });
        expect(c.command[0]).toBe('/bin/bash');
        const watched = c.command.slice(2, c.command.indexOf('--')).filter((a: string) => !a.startsWith('--'));
        // Each watched path is a mount of this container, and the wrapper comes from the scripts ConfigMap.
        for (const w of watched) {
          expect({ where, w, mounted: (c.volumeMounts ?? []).some((vm: any) => vm.mountPath === w) }).toEqual({ where, w, mounted: true });
        }
        const scriptsMount = c.volumeMounts.find((vm: any) => c.command[1] === `${vm.mountPath}/${WRAPPER}`);
        const scriptsVolume = t.spec.volumes.find((v: any) => v.name === scriptsMount?.name)?.configMap;
        expect(scriptsVolume?.name).toMatch(/-scripts$/);
        expect(find(manifests, 'ConfigMap', scriptsVolume.name).data[WRAPPER]).toMatch(/^#!\/bin\/bash/);
        // The starter of a pgBackRest server comes from the same ConfigMap.
        const starter = server[1]?.endsWith(`/${PGBACKREST_STARTER}`) ? [PGBACKREST_STARTER] : [];
        if (starter.length > 0) expect(server[1]).toBe(`${scriptsMount.mountPath}/${PGBACKREST_STARTER}`);
        if (scriptsVolume.items) expect(scriptsVolume.items).toEqual([WRAPPER, ...starter].map((k) => ({ key: k, path: k })));
        // Every certificate, key, CA and userlist the server loads lies in a watched directory.
        for (const f of files) {
          expect({ where, f, watched: watched.some((w: string) => f === w || f.startsWith(`${w}/`)) }).toEqual({ where, f, watched: true });
        }
      }
    }
    if (tlsOn) expect(servers).toBeGreaterThan(0);
  });
});

describe('which servers and files', () => {
  test('members: Patroni watches the server and replication certificates; the pgBackRest servers their certificate and configuration, restarted when a reload cannot rebind', () => {
    const m = synthCluster({ backup: { repositories: [BackupRepository.volume()] } });
    const containers = find(m, 'StatefulSet', 'db-primary').spec.template.spec.containers;
    expect(containers[0].command).toEqual([
      '/bin/bash', '/opt/cdk8s-postgres/reload-on-change.sh', '/etc/postgres-tls/server', '/etc/postgres-tls/replication', '--',
      '/usr/bin/patroni', '/etc/patroni/patroni.yaml',
    ]);
    const sidecar = containers.find((c: any) => c.name === 'pgbackrest');
    expect(sidecar.command).toEqual([
      '/bin/bash', '/opt/cdk8s-postgres/reload-on-change.sh', '--restart-on-exit=41,139', '/etc/postgres-tls/server', '/etc/pgbackrest/conf', '--',
      '/bin/bash', '/opt/cdk8s-postgres/pgbackrest-server.sh', '/usr/bin/pgbackrest',
    ]);
    const repoHost = find(m, 'StatefulSet', 'db-repo-host').spec.template;
    expect(repoHost.spec.containers[0].command).toEqual([
      '/bin/bash', '/opt/cdk8s-postgres/reload-on-change.sh', '--restart-on-exit=41,139', '/etc/pgbackrest/server-tls', '/etc/pgbackrest/conf', '--',
      '/bin/bash', '/opt/cdk8s-postgres/pgbackrest-server.sh', '/usr/bin/pgbackrest',
    ]);
    // A new version of the wrapper reaches the backup node by a rollout.
    expect(repoHost.metadata.annotations['postgres.cdk8s.io/config-hash']).toMatch(/^[0-9a-f]{16}$/);
  });

  test('without TLS, Patroni runs as it is: there is nothing to reload', () => {
    const m = synthCluster({ tls: Tls.disabled() });
    expect(find(m, 'StatefulSet', 'db-primary').spec.template.spec.containers[0].command).toEqual(['/usr/bin/patroni', '/etc/patroni/patroni.yaml']);
  });

  test('the wrapper is a key of the scripts ConfigMap; the REST API of Patroni loads its certificate from the watched directory', () => {
    const m = synthCluster({});
    expect(Object.keys(find(m, 'ConfigMap', 'db-scripts').data)).toContain(WRAPPER);
    expect(parseYaml(find(m, 'ConfigMap', 'db-primary-config').data['patroni.yaml']).restapi.certfile).toBe('/etc/postgres-tls/server/tls.crt');
  });
});
