/** A throwaway single-node etcd 3.4 on loopback, run as the service user. */
import * as path from 'node:path';
import { makeServiceDir } from './fsutil';
import { httpRequest } from './net';
import { ProcessGroup, spawnGroup, terminateGroup, waitFor } from './processes';

/** Options for {@link startEtcd}. */
export interface EtcdOptions {
  /** Directory receiving `etcd/data` and `etcd.log`. */
  readonly workDir: string;
  readonly host?: string;
  readonly clientPort?: number;
  readonly peerPort?: number;
  readonly startTimeoutMs?: number;
}

/** A running etcd server. */
export interface EtcdServer {
  readonly process: ProcessGroup;
  /** `host:port`, as used in Patroni's `etcd3.hosts`. */
  readonly endpoint: string;
  readonly clientUrl: string;
  readonly dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

/** Starts etcd and waits until `GET /health` reports healthy. */
export async function startEtcd(options: EtcdOptions): Promise<EtcdServer> {
  const host = options.host ?? '127.0.0.1';
  const clientPort = options.clientPort ?? 2379;
  const peerPort = options.peerPort ?? 2380;
  const clientUrl = `http://${host}:${clientPort}`;
  const peerUrl = `http://${host}:${peerPort}`;
  const etcdDir = makeServiceDir(path.join(options.workDir, 'etcd'));
  const dataDir = path.join(etcdDir, 'data');
  const name = 'e2e';

  const proc = spawnGroup({
    name: 'etcd',
    command: '/usr/bin/etcd',
    args: [
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${name}=${peerUrl}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=e2e',
    ],
    cwd: etcdDir,
    logFile: path.join(options.workDir, 'etcd.log'),
  });

  const server: EtcdServer = {
    process: proc,
    endpoint: `${host}:${clientPort}`,
    clientUrl,
    dataDir,
    stop: () => terminateGroup(proc, 5_000),
  };
  try {
    await waitFor(async () => {
      const res = await httpRequest({ host, port: clientPort, path: '/health', timeoutMs: 1_000 });
      return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === 'true';
    }, options.startTimeoutMs ?? 15_000, 100, `etcd at ${clientUrl} to become healthy (log: ${proc.logFile})`);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
