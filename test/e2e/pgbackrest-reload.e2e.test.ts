/**
 * The pgBackRest TLS server as the library starts it (`pgbackrestServerCommand`: the reload wrapper
 * around pgbackrest-server.sh), run with the installed pgBackRest and reloaded five times a second
 * through the wrapper while clients connect all the time.
 *
 * pgBackRest up to 2.53 binds its port again on every reload and ends at once (status 41,
 * "unable to bind socket: [98] Address already in use") when the child serving a connection
 * accepted just before still holds the listening socket. On a cluster, that ended the repository
 * host's container during a certificate renewal while WAL was being archived to it. The control
 * shows this load reaches that failure; the library's command keeps the server up and serving.
 *
 * This stream of short connections also meets a second fault, with or without reloads: now and
 * then the server dies of SIGSEGV (status 139; its SIGCHLD handler edits the list of children the
 * accept loop appends to). The library's command starts it again too; so does the control's
 * wrapper, which is given that status alone, so that the control ends on the failed rebind.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { record } from './harness/results';
import { makeServiceDir, makeWorkDir, removeWorkDir, writeServiceFile } from './lib/fsutil';
import { servedSerial } from './lib/net';
import { ProcessGroup, spawnGroup, stopAll, terminateGroup, waitFor } from './lib/processes';
import {
  pgbackrestServerCommand, PGBACKREST_CRASH_STATUS, PGBACKREST_REBIND_FAILURE_STATUS, PGBACKREST_SERVER_FILE, reloadingCommand,
} from '../../src/render/scripts';

const SCRIPTS = path.join(__dirname, '..', '..', 'src', 'scripts');
const PGBACKREST = '/usr/bin/pgbackrest';
/** SIGHUPs sent at most, one every SIGNAL_MS; here the control ends within a few dozen. */
const MAX_SIGNALS = 600;
const SIGNAL_MS = 200;
/** Failed rebinds the library's command must come through. */
const RESTARTS = 3;

let workDir: string;
let tlsDir: string;
let confDir: string;
let port: number;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A CA, and a server and a client certificate it signed (the server's for 127.0.0.1). */
function makeCertificates(dir: string): void {
  const f = (name: string) => path.join(dir, name);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=reload-test-ca', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']]) {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
      '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-days', '2', '-out', f(`${name}.crt`), '-extfile', writeServiceFile(f(`${name}.ext`), `${ext}\n`));
  }
  for (const name of fs.readdirSync(dir)) writeServiceFile(f(name), fs.readFileSync(f(name), 'utf8'));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  workDir = makeWorkDir('pgbr-reload');
  tlsDir = makeServiceDir(path.join(workDir, 'tls'));
  confDir = makeServiceDir(path.join(workDir, 'conf'));
  makeServiceDir(path.join(workDir, 'run'));
  makeCertificates(tlsDir);
  port = await freePort();
  writeServiceFile(path.join(confDir, 'pgbackrest.conf'), [
    '[global]',
    'tls-server-address=*',
    `tls-server-port=${port}`,
    `tls-server-ca-file=${tlsDir}/ca.crt`,
    `tls-server-cert-file=${tlsDir}/server.crt`,
    `tls-server-key-file=${tlsDir}/server.key`,
    'tls-server-auth=client=*',
    `lock-path=${workDir}/run`,
    'log-level-file=off',
    'log-level-console=detail',
    `repo1-path=${workDir}/repo`,
    '',
  ].join('\n'));
});

afterAll(async () => {
  await stopAll();
  if (workDir) removeWorkDir(workDir);
});

interface Run {
  /** Reloads pgBackRest began ("configuration reload begin" in its log). */
  readonly reloads: number;
  /** Servers started again after a failed rebind. */
  readonly restarts: number;
  /** Servers started again after SIGSEGV. */
  readonly crashRestarts: number;
  readonly connections: number;
  readonly exitStatus: number | string | undefined;
  readonly servedAfter: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `command` (the wrapper first) with eight clients connecting in a loop all the while. A
 * changed watched file makes the wrapper reload the server once (the path a renewal takes); then
 * the wrapper gets SIGHUP every SIGNAL_MS (its trap reloads the server the same way), until
 * `enough` holds, the wrapper ends or `maxSignals` were sent.
 */
async function reloadUnderLoad(name: string, command: string[], enough: (restarts: number) => boolean, maxSignals: number): Promise<Run> {
  const logFile = path.join(workDir, `${name}.log`);
  const group: ProcessGroup = spawnGroup({
    name,
    command: command[0],
    args: command.slice(1),
    logFile,
    env: { PGC_RELOAD_SECONDS: '1', PGBACKREST_CONFIG: path.join(confDir, 'pgbackrest.conf') },
  });
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const count = (re: RegExp) => (log().match(re) ?? []).length;
  const reloads = () => count(/configuration reload begin/g);
  const restarts = () => count(new RegExp(`ended with status ${PGBACKREST_REBIND_FAILURE_STATUS} during a reload; starting it again`, 'g'));
  const anyRestarts = () => count(/; starting it again/g);
  const ca = fs.readFileSync(path.join(tlsDir, 'ca.crt'), 'utf8');
  const client = { ca, cert: fs.readFileSync(path.join(tlsDir, 'client.crt'), 'utf8'), key: fs.readFileSync(path.join(tlsDir, 'client.key'), 'utf8') };
  await waitFor(() => servedSerial('127.0.0.1', port, client).then(() => true), 10_000, 100, `${name}: pgBackRest serving TLS`);
  let connections = 0;
  let done = false;
  const connectLoop = async () => {
    while (!done) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          connections++;
          s.destroy();
          resolve();
        });
        s.on('error', () => setTimeout(resolve, 10));
      });
    }
  };
  const clients = Array.from({ length: 8 }, connectLoop);
  writeServiceFile(path.join(confDir, 'generation'), `${name}\n`);
  await waitFor(async () => reloads() >= 1 || group.exitStatus !== undefined, 10_000, 100, `${name}: a reload on the changed file`);
  let restartsSeen = 0;
  for (let i = 0; i < maxSignals && group.exitStatus === undefined && !enough(restarts()); i++) {
    // A server started again gets no SIGHUP before it serves (and so has its handler): with the
    // wrapper's 10-second interval a renewal's reloads never come that close.
    if (anyRestarts() > restartsSeen) {
      restartsSeen = anyRestarts();
      await waitFor(() => servedSerial('127.0.0.1', port, client).then(() => true), 10_000, 50, `${name}: pgBackRest serving again`);
    }
    process.kill(group.pid, 'SIGHUP');
    await sleep(SIGNAL_MS);
  }
  // Past the last reload's restart, if it had one (the wrapper looks every half second).
  await sleep(1_500);
  done = true;
  await Promise.all(clients);
  const exitStatus = group.exitStatus;
  const servedAfter = exitStatus === undefined && await servedSerial('127.0.0.1', port, client).then(() => true, () => false);
  if (exitStatus === undefined) await terminateGroup(group);
  return { reloads: reloads(), restarts: restarts(), crashRestarts: count(new RegExp(`ended with status ${PGBACKREST_CRASH_STATUS}`, 'g')), connections, exitStatus, servedAfter };
}

test('control: under the plain reload wrapper, pgBackRest ends on a reload that cannot bind its port', async () => {
  const starter = ['/bin/bash', path.join(SCRIPTS, PGBACKREST_SERVER_FILE), PGBACKREST];
  const run = await reloadUnderLoad('plain', reloadingCommand(SCRIPTS, [tlsDir, confDir], starter, [PGBACKREST_CRASH_STATUS]), () => false, MAX_SIGNALS);
  record('pgbackrest_reload_plain', JSON.stringify({ reloadsUntilExit: run.reloads, crashRestarts: run.crashRestarts, connections: run.connections }));
  expect({ exitStatus: run.exitStatus, log: fs.readFileSync(path.join(workDir, 'plain.log'), 'utf8').match(/ERROR: \[041\]: unable to bind socket[^\n]*/)?.[0] })
    .toEqual({ exitStatus: PGBACKREST_REBIND_FAILURE_STATUS, log: 'ERROR: [041]: unable to bind socket: [98] Address already in use' });
});

test(`the library's pgBackRest server command keeps serving through reloads that cannot bind its port (${RESTARTS} restarts)`, async () => {
  const run = await reloadUnderLoad('library', pgbackrestServerCommand(SCRIPTS, [tlsDir, confDir], PGBACKREST), (n) => n >= RESTARTS, MAX_SIGNALS);
  record('pgbackrest_reload_library', JSON.stringify({ rebindRestarts: run.restarts, crashRestarts: run.crashRestarts, reloads: run.reloads, connections: run.connections }));
  expect({ exitStatus: run.exitStatus, servedAfter: run.servedAfter }).toEqual({ exitStatus: undefined, servedAfter: true });
  // The failure was reached and survived, more than once.
  expect(run.restarts).toBeGreaterThanOrEqual(RESTARTS);
  expect(run.connections).toBeGreaterThan(run.reloads);
});
