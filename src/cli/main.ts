/**
 * The `cdk8s-postgres-cluster` command line: init, synth, validate, diagram, and the operations
 * commands status and switchover (also as the kubectl plugin `kubectl pg`). Thin wiring: each
 * command's work is a function in ./commands; this file parses flags, prints, and exits.
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BACKUP_TYPES, runBackup } from './commands/backup';
import { runDashboard } from './commands/dashboard';
import { writeDiagrams } from './commands/diagram';
import { InitLanguage, ownPackage, runInit } from './commands/init';
import { runRestart } from './commands/restart';
import { clusterStatus, fetchClusterObjects, formatStatus } from './commands/status';
import { switchover } from './commands/switchover';
import { synthSpec } from './commands/synth';
import { validatePaths } from './commands/validate';
import { CliError, EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE } from './exit';
import { readText } from './files';
import { KubeClient, KubeTarget, loadKubeconfig } from './kube/client';
import { CHECKS } from '../validate/checks';

/** Where the CLI writes: replaceable in tests. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIo: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function checkNames(value: string, previous: string[] = []): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !CHECKS.some((c) => c.name === n));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown check ${unknown.join(', ')}; the checks are ${CHECKS.map((c) => c.name).join(', ')}`);
  return [...previous, ...names];
}

/** The flags every command that talks to a cluster takes, as kubectl spells them (`output`: and -o). */
function withKubeFlags(c: Command, output = true): Command {
  const flags = c
    .option('-n, --namespace <namespace>', 'the namespace of the cluster (default: the context\'s, else default)')
    .option('--kubeconfig <file>', 'the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'the kubeconfig context to use (default: its current-context)');
  return output ? flags.addOption(new Option('-o, --output <format>', 'table for people, json for scripts').choices(['table', 'json']).default('table')) : flags;
}

async function withClient<T>(opts: KubeTarget, fn: (client: KubeClient, namespace: string) => Promise<T>): Promise<T> {
  const client = new KubeClient(loadKubeconfig({ kubeconfig: opts.kubeconfig, context: opts.context, namespace: opts.namespace }));
  try {
    return await fn(client, client.conn.namespace);
  } finally {
    client.close();
  }
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3600) throw new InvalidArgumentError('must be a whole number of seconds from 1 to 3600');
  return n;
}

interface BackupFlags {
  readonly output: string;
  readonly repo: number;
  readonly type: typeof BACKUP_TYPES[number];
  readonly wait: boolean;
  readonly timeout: number;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number from 0 (any free port) to 65535');
  return n;
}

function repoNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new InvalidArgumentError('must be a repository number from 1 to 4');
  return n;
}

function program(io: Io, setExit: (code: number) => void, name: string): Command {
  const own = ownPackage();
  const cmd = new Command(name)
    .description('A highly available PostgreSQL cluster (Patroni, streaming replicas, pgBackRest) as plain Kubernetes YAML.')
    .version(own.version, '-V, --version')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\nRun \`cdk8s-postgres-cluster <command> --help\` for a command's options.`)
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();

  cmd.command('init')
    .description('Scaffold a cdk8s app with a PostgresCluster in a folder (default: the current one), ready for `npm install && npx cdk8s synth`.')
    .option('-d, --dir <folder>', 'folder to write into', '.')
    .option('-n, --name <name>', 'the cluster\'s name', 'db')
    .addOption(new Option('-l, --language <language>', 'the app\'s language').choices(['typescript', 'javascript']).default('typescript'))
    .option('--spec', 'write a spec file for `synth` instead of an app', false)
    .option('-f, --force', 'overwrite files that exist', false)
    .addHelpText('after', `\nExamples:\n  $ cdk8s-postgres-cluster init --name orders-db && npm install && npx cdk8s synth\n  $ cdk8s-postgres-cluster init --spec --name orders-db\n\n${EXIT_CODES_HELP}`)
    .action((opts: { dir: string; name: string; language: InitLanguage; spec: boolean; force: boolean }) => {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(opts.name)) {
        throw new CliError(`--name ${JSON.stringify(opts.name)}: must be a DNS label (lower-case letters, digits and '-')`, EXIT_USAGE);
      }
      const written = runInit(opts);
      io.out(`wrote ${written.map((f) => join(opts.dir, f)).join(', ')}\n`);
      io.out(opts.spec
        ? `next: cdk8s-postgres-cluster synth ${join(opts.dir, written[0])}\n`
        : `next: ${opts.dir === '.' ? '' : `cd ${opts.dir} && `}npm install && npx cdk8s synth\n`);
    });

  cmd.command('synth')
    .description('Build a cluster from a YAML or JSON spec file (metadata.name, metadata.namespace, spec mirroring the PostgresCluster props) and write its Kubernetes YAML.')
    .argument('<spec-file>', 'the spec file (`init --spec` writes one)')
    .option('-o, --output <folder>', 'folder to write <name>.k8s.yaml into', 'dist')
    .option('--stdout', 'print the YAML instead of writing a file', false)
    .addHelpText('after', `\nExample spec:\n  apiVersion: postgres.cdk8s.io/v1alpha1\n  kind: PostgresCluster\n  metadata: { name: orders-db, namespace: orders }\n  spec:\n    replicas: { count: 2, mode: synchronous }\n    resources: { cpu: 2, memory: 4Gi }\n    storage: { size: 100Gi, storageClassName: fast-ssd }\n\nAn unknown or invalid field is an error naming it (spec.replicas.count), exit 2;\nvalues the construct refuses (a count out of range) exit 1.\n\n${EXIT_CODES_HELP}`)
    .action((file: string, opts: { output: string; stdout: boolean }) => {
      const result = synthSpec(readText(file), file);
      if (opts.stdout) {
        io.out(result.yaml);
        return;
      }
      mkdirSync(opts.output, { recursive: true });
      const out = join(opts.output, `${result.name}.k8s.yaml`);
      writeFileSync(out, result.yaml);
      io.out(`wrote ${out} (${(result.yaml.match(/^kind: /gm) ?? []).length} objects)\n`);
    });

  cmd.command('validate')
    .description('Check synthesized YAML (files or folders, searched for .yaml/.yml/.json) with the library\'s checks; report findings by file and exit 1 if any is an error.')
    .argument('<paths...>', 'files or folders of synthesized YAML (e.g. dist)')
    .option('-c, --check <names>', `only these checks, comma-separated: ${CHECKS.map((c) => c.name).join(', ')}`, checkNames)
    .option('--json', 'print the report as JSON', false)
    .option('--cni <name>', 'the CNI of the target cluster (cilium, calico, ...): warns where the API server egress is in a form it does not match')
    .addHelpText('after', `\nChecks:\n${CHECKS.map((c) => `  ${c.name.padEnd(11)} ${c.description}`).join('\n')}\n\nCross-object checks see every object of every path together.\nWarnings (a kind with no known schema, a Secret the output does not create) do not fail.\n\n${EXIT_CODES_HELP}`)
    .action((paths: string[], opts: { check?: string[]; json: boolean; cni?: string }) => {
      const { report, exitCode } = validatePaths(paths, { checks: opts.check, json: opts.json, cni: opts.cni });
      io.out(report);
      setExit(exitCode);
    });

  cmd.command('diagram')
    .description('Render the topology of synthesized YAML (members and roles, Services, poolers, backups, sidecars, resources) as SVG and as one self-contained HTML page.')
    .argument('<paths...>', 'files or folders of synthesized YAML (e.g. dist)')
    .option('-o, --out-dir <folder>', 'folder to write into', '.')
    .option('-n, --name <name>', 'file name without extension', 'topology')
    .addOption(new Option('-f, --format <format>', 'what to write').choices(['svg', 'html', 'both']).default('both'))
    .addHelpText('after', `\nThe HTML page needs no server: open it in a browser.\n\n${EXIT_CODES_HELP}`)
    .action((paths: string[], opts: { outDir: string; name: string; format: string }) => {
      const written = writeDiagrams(paths, { outDir: opts.outDir, name: opts.name, svg: opts.format !== 'html', html: opts.format !== 'svg' });
      io.out(`wrote ${written.join(', ')}\n`);
    });

  withKubeFlags(cmd.command('status'))
    .description('Show a running cluster as the Kubernetes API has it: members with role, state, timeline, lag, pending restart, readiness and volume size; where its Services point; the last run of each backup schedule; certificate expiry.')
    .argument('<cluster>', 'the cluster\'s name (the PostgresCluster id, e.g. orders-db)')
    .addHelpText('after', `\nNeeds get/list on pods, configmaps, endpointslices, cronjobs and cert-manager certificates in the namespace; list on statefulsets and persistentvolumeclaims for the template and volume columns (optional).\n\n${EXIT_CODES_HELP}`)
    .action(async (cluster: string, opts: KubeTarget & { output: string }) => {
      const status = await withClient(opts, async (client, ns) => clusterStatus(cluster, ns, await fetchClusterObjects(client, cluster, ns)));
      io.out(opts.output === 'json' ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
    });

  withKubeFlags(cmd.command('switchover'))
    .description('Move the leader to another member through Patroni: writes the switchover request into the <cluster>-failover ConfigMap, waits for the new leader.')
    .argument('<cluster>', 'the cluster\'s name (the PostgresCluster id, e.g. orders-db)')
    .option('--to <member>', 'the member (pod name) to promote; default: Patroni picks the healthiest replica')
    .option('--timeout <seconds>', 'how long to wait for the new leader', seconds, 60)
    .addHelpText('after', `\nNeeds get/list on pods and configmaps and create/patch on configmaps in the namespace.\n\n${EXIT_CODES_HELP}`)
    .action(async (cluster: string, opts: KubeTarget & { output: string; to?: string; timeout: number }) => {
      const result = await withClient(opts, (client, ns) => switchover(client, cluster, ns, { to: opts.to, timeoutSeconds: opts.timeout }));
      io.out(opts.output === 'json' ? JSON.stringify(result, null, 2) + '\n'
        : `switched over ${result.cluster} in ${result.namespace}: ${result.from} -> ${result.to} in ${result.seconds.toFixed(1)} s\n`);
    });

  withKubeFlags(cmd.command('backup'))
    .description('Take a pgBackRest backup now: a Job made from the repository\'s backup CronJob (as `kubectl create job --from=cronjob/...`), with the type asked for; waits for it.')
    .argument('<cluster>', 'the cluster\'s name (the PostgresCluster id, e.g. orders-db)')
    .option('--repo <n>', 'the repository number (its CronJobs are <cluster>-repo<n>-<type>)', repoNumber, 1)
    .addOption(new Option('--type <type>', 'pgBackRest backup type').choices([...BACKUP_TYPES]).default('full'))
    .option('--no-wait', 'return once the Job is created')
    .option('--timeout <seconds>', 'how long to wait for the Job', seconds, 3600)
    .addHelpText('after', `\nNeeds get/list on cronjobs and create/get on jobs in the namespace.\n\n${EXIT_CODES_HELP}`)
    .action(async (cluster: string, opts: KubeTarget & BackupFlags) => {
      const backupOpts = { repo: opts.repo, type: opts.type, wait: opts.wait, timeoutSeconds: opts.timeout };
      const r = await withClient(opts, (client, ns) => runBackup(client, cluster, ns, backupOpts));
      io.out(opts.output === 'json' ? JSON.stringify(r, null, 2) + '\n'
        : `${r.type} backup of ${r.cluster} into repository ${r.repo}: Job ${r.job} (from CronJob ${r.fromCronJob}) ${r.outcome}${r.seconds !== undefined ? ` in ${r.seconds.toFixed(1)} s` : ''}\n`);
    });

  withKubeFlags(cmd.command('restart'))
    .description('Restart PostgreSQL on every member in the safe order (replicas one at a time, each back and streaming, the leader last) through Patroni: a Job made from the <cluster>-restart CronJob; waits for it.')
    .argument('<cluster>', 'the cluster\'s name (the PostgresCluster id, e.g. orders-db)')
    .option('--no-wait', 'return once the Job is created')
    .option('--timeout <seconds>', 'how long to wait for the Job', seconds, 1800)
    .addHelpText('after', `\nNeeds get on cronjobs and create/get on jobs in the namespace.\n\n${EXIT_CODES_HELP}`)
    .action(async (cluster: string, opts: KubeTarget & { output: string; wait: boolean; timeout: number }) => {
      const r = await withClient(opts, (client, ns) => runRestart(client, cluster, ns, { wait: opts.wait, timeoutSeconds: opts.timeout }));
      io.out(opts.output === 'json' ? JSON.stringify(r, null, 2) + '\n'
        : `restart of ${r.cluster}: Job ${r.job} (from CronJob ${r.fromCronJob}) ${r.outcome}${r.seconds !== undefined ? ` in ${r.seconds.toFixed(1)} s` : ''}\n`);
    });

  withKubeFlags(cmd.command('dashboard'), false)
    .description('Serve a live page of a running cluster on this machine: members with role, state, timeline, lag and readiness, where its Services point, the backups\' last runs, certificate expiry; with --allow-actions also switchover, restart and backup, each after a confirmation.')
    .argument('<cluster>', 'the cluster\'s name (the PostgresCluster id, e.g. orders-db)')
    .option('--address <address>', 'the address to listen on (anything but a loopback address lets others reach the page)', '127.0.0.1')
    .option('--port <port>', 'the port to listen on (0: any free one)', portNumber, 8765)
    .option('--allow-actions', 'let the page run switchover, restart and backup (read-only without it)', false)
    .addHelpText('after', `\nEvery poll of the page reads the cluster as \`status\` does (the same grants); actions need what \`switchover\`, \`restart\` and \`backup\` need. Runs until Ctrl-C.\n\n${EXIT_CODES_HELP}`)
    .action(async (cluster: string, opts: KubeTarget & { address: string; port: number; allowActions: boolean }) => {
      await withClient(opts, async (client, ns) => {
        const read = async () => clusterStatus(cluster, ns, await fetchClusterObjects(client, cluster, ns));
        // A cluster that is not there, or an API that refuses, fails now with its exit code.
        await read();
        await runDashboard({
          status: read,
          switchover: (to) => switchover(client, cluster, ns, { to, timeoutSeconds: 60 }),
          restart: () => runRestart(client, cluster, ns, { wait: true, timeoutSeconds: 1800 }),
          backup: (repo, type) => runBackup(client, cluster, ns, { repo, type, wait: true, timeoutSeconds: 3600 }),
        }, opts, (url, warning) => {
          io.out(`dashboard of ${cluster} in namespace ${ns}: ${url} (${opts.allowActions ? 'actions allowed' : 'read-only'}); Ctrl-C stops it\n`);
          if (warning) io.err(`warning: ${warning}\n`);
        });
      });
    });

  return cmd;
}

/** Runs the CLI on these arguments (without `node` and the script); resolves to the exit code. */
export async function main(args: readonly string[], io: Io = processIo, name = 'cdk8s-postgres-cluster'): Promise<number> {
  let exitCode = EXIT_OK;
  const cmd = program(io, (code) => { exitCode = code; }, name);
  try {
    await cmd.parseAsync([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exit code 0; any other parse error is a usage error.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (err instanceof CliError) {
      io.err(`error: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`error: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
  return exitCode;
}

/** The bin's entry point; `kubectl-pg` (the kubectl plugin) is the same program named `kubectl pg`. */
export function run(name = 'cdk8s-postgres-cluster'): void {
  // A reader that stops early (`… --help | head`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  void main(process.argv.slice(2), processIo, name).then((code) => { process.exitCode = code; });
}
