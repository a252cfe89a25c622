/**
 * Manual smoke test of the e2e library: 3 Patroni members on etcd3, then a
 * kill -9 of the leader. Run from the project root:
 *   npx ts-node --transpile-only test/e2e/lib/scratch/demo.ts
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { startEtcd } from '../etcd';
import { makeServiceDir, makeWorkDir, removeWorkDir, writeServiceFile } from '../fsutil';
import { PatroniMember, waitForLeader, waitForStreaming } from '../patroni';
import { PgTarget, isInRecovery, psql } from '../pg';
import { ProcessGroup, killAndWait, liveServiceProcesses, spawnGroup, stopAll, terminateGroup, waitFor } from '../processes';

const SUPERUSER = { username: 'postgres', password: 'super-secret' };
const REPLICATION = { username: 'replicator', password: 'repl-secret' };
const REWIND = { username: 'rewinder', password: 'rewind-secret' };
const PG_HBA = [
  'local all all trust',
  'host replication replicator 127.0.0.0/8 md5',
  'host all all 127.0.0.0/8 md5',
];

function superuser(m: PatroniMember): PgTarget {
  return { host: m.host, port: m.pgPort, user: SUPERUSER.username, password: SUPERUSER.password };
}

/** Patroni config; JSON is valid YAML, so no YAML library is needed. */
function patroniConfig(m: PatroniMember, dir: string, etcdEndpoint: string): string {
  return JSON.stringify({
    scope: 'demo',
    name: m.name,
    restapi: { listen: `${m.host}:${m.apiPort}`, connect_address: `${m.host}:${m.apiPort}` },
    etcd3: { hosts: [etcdEndpoint] },
    bootstrap: {
      dcs: {
        ttl: 10,
        loop_wait: 2,
        retry_timeout: 4,
        maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, parameters: { wal_level: 'replica', hot_standby: 'on', wal_keep_size: '64MB' } },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
      pg_hba: PG_HBA, // 3.0.2's validator still expects it here
    },
    postgresql: {
      listen: `${m.host}:${m.pgPort}`,
      connect_address: `${m.host}:${m.pgPort}`,
      data_dir: path.join(dir, 'data'),
      bin_dir: '/usr/lib/postgresql/15/bin',
      pgpass: path.join(dir, 'pgpass'),
      authentication: { superuser: SUPERUSER, replication: REPLICATION, rewind: REWIND },
      parameters: { unix_socket_directories: path.join(dir, 'sock'), password_encryption: 'scram-sha-256' },
      pg_hba: PG_HBA,
    },
  }, null, 2);
}

async function main(): Promise<void> {
  const workDir = makeWorkDir('patroni-demo');
  console.log(`work dir ${workDir}`);
  const members: PatroniMember[] = [1, 2, 3].map((i) => ({ name: `m${i}`, host: `127.0.0.1${i}`, apiPort: 8008, pgPort: 5432 }));
  const groups = new Map<string, ProcessGroup>();
  try {
    const etcd = await startEtcd({ workDir });
    console.log(`etcd healthy at ${etcd.endpoint} (pid ${etcd.process.pid})`);

    const t0 = Date.now();
    for (const m of members) {
      const dir = makeServiceDir(path.join(workDir, m.name));
      makeServiceDir(path.join(dir, 'sock'), 0o755);
      const config = writeServiceFile(path.join(dir, 'patroni.yml'), patroniConfig(m, dir, etcd.endpoint));
      execFileSync('/usr/bin/python3', ['/usr/bin/patroni', '--validate-config', config], { stdio: 'inherit' });
      groups.set(m.name, spawnGroup({
        name: `patroni-${m.name}`,
        command: '/usr/bin/python3',
        args: ['/usr/bin/patroni', config],
        cwd: dir,
        logFile: path.join(dir, 'patroni.log'),
      }));
    }
    const leader = await waitForLeader(members, { timeoutMs: 120_000 });
    const tLeader = Date.now();
    const replicas = members.filter((m) => m !== leader);
    await waitForStreaming(leader, replicas, { timeoutMs: 120_000 });
    const tStreaming = Date.now();
    console.log(`bootstrap: leader ${leader.name} after ${tLeader - t0} ms, 2 replicas streaming after ${tStreaming - t0} ms`);

    await psql(superuser(leader), 'CREATE TABLE demo (id int PRIMARY KEY, v text); INSERT INTO demo VALUES (1, \'hello\');');
    for (const r of replicas) {
      if (!(await isInRecovery(superuser(r)))) throw new Error(`${r.name} is not in recovery`);
      const v = await waitFor(async () => (await psql(superuser(r), 'SELECT v FROM demo WHERE id = 1')) || undefined, 10_000, 100, `row on ${r.name}`);
      console.log(`read on ${r.name}: ${v}`);
    }

    const killedAt = Date.now();
    await killAndWait(groups.get(leader.name)!);
    const tKilled = Date.now();
    const newLeader = await waitForLeader(members, { exclude: [leader.name], timeoutMs: 120_000, intervalMs: 100 });
    const tNewLeader = Date.now();
    await waitFor(() => psql(superuser(newLeader), 'INSERT INTO demo VALUES (2, \'after failover\') RETURNING id', { connectTimeoutSec: 1 }),
      60_000, 100, `a write on ${newLeader.name}`);
    const tWrite = Date.now();
    console.log(`failover: group gone after ${tKilled - killedAt} ms, ${newLeader.name} leader after ${tNewLeader - killedAt} ms, write accepted after ${tWrite - killedAt} ms`);

    const survivor = members.find((m) => m !== leader && m !== newLeader)!;
    const tTerm = Date.now();
    await terminateGroup(groups.get(survivor.name)!);
    console.log(`graceful stop (SIGTERM) of replica ${survivor.name} took ${Date.now() - tTerm} ms`);
  } finally {
    const tStop = Date.now();
    await stopAll();
    console.log(`stopAll took ${Date.now() - tStop} ms`);
    const leftover = liveServiceProcesses();
    console.log(leftover.length > 0 ? `LEFTOVER: ${JSON.stringify(leftover)}` : 'no live process of user postgres left');
    removeWorkDir(workDir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
