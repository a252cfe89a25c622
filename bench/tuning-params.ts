// The library's rendered PostgreSQL parameters for one member with a CPU / memory limit (2 CPUs,
// 2 GiB unless --cpus / --memory-gib say otherwise), as the "L" configuration of
// bench/tuning-bench.sh. Run from the repository root:
//   npx ts-node --transpile-only bench/tuning-params.ts [--cpus N] [--memory-gib N]         -> JSON
//   npx ts-node --transpile-only bench/tuning-params.ts [--cpus N] [--memory-gib N] --conf  -> postgresql.conf lines
// The parameters come from the synthesized ConfigMap `db-primary-config` (patroni.yaml:
// bootstrap.dcs.postgresql.parameters, then postgresql.parameters over them). If the construct
// API does not work (it is being changed), it falls back to src/render's tuneFromLimits +
// clusterParameters + memberParameters and says so in `source` (and on stderr).
import { Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as YAML from 'yaml';
import { confLines, ParamValue } from './postgresql-conf';

type Params = Record<string, ParamValue>;

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got '${process.argv[i + 1]}'`);
  return v;
}
const CPUS = numberArg('--cpus', 2);
const MEMORY_GIB = numberArg('--memory-gib', 2);

/**
 * Settings the benchmark sets itself (socket, address), that need a backup repository, or TLS:
 * every configuration is measured over the same transport (TCP without TLS on the loopback
 * address), so TLS (on by default, with certificates only the pods have) is left out of L too.
 */
const DROPPED = [/^unix_socket_/, /^archive_/, /^restore_command$/, /^listen_addresses$/, /^port$/, /^ssl($|_)/];

function fromSynth(): { dcs: Params; member: Params } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require('../src');
  const chart = Testing.chart();
  new lib.PostgresCluster(chart, 'db', {
    config: { resources: lib.Resources.of({ cpu: kplus.Cpu.units(CPUS), memory: Size.gibibytes(MEMORY_GIB) }) },
    storage: { size: Size.gibibytes(20) },
  });
  const manifests: any[] = Testing.synth(chart);
  const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata?.name === 'db-primary-config');
  if (!cm) {
    const names = manifests.filter((m) => m.kind === 'ConfigMap').map((m) => m.metadata?.name);
    throw new Error(`ConfigMap db-primary-config not found (ConfigMaps: ${names.join(', ')})`);
  }
  const patroni = YAML.parse(cm.data['patroni.yaml']);
  const dcs = patroni?.bootstrap?.dcs?.postgresql?.parameters;
  const member = patroni?.postgresql?.parameters;
  if (!dcs || !member) throw new Error('patroni.yaml has no postgresql parameters');
  return { dcs, member };
}

/** Fallback: the render functions with the inputs the construct used for this limit (2026-11-24). */
function fromRender(): { dcs: Params; member: Params } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tuning = require('../src/render/memory-tuning');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const params = require('../src/render/postgresql-parameters');
  const MiB = 1024 * 1024;
  const t = tuning.tuneFromLimits({ memoryBytes: MEMORY_GIB * 1024 * MiB, cpus: CPUS, maxConnections: 100, disk: 'network-ssd' });
  const dcs = params.clusterParameters({
    maxConnections: 100, maxWalSenders: 16, maxReplicationSlots: 16, maxWorkerProcesses: t.maxWorkerProcesses,
  });
  const member = params.memberParameters({
    postgresVersion: 15,
    tuning: t,
    maxWalSize: 2560 * MiB,
    maxSlotWalKeepSize: 5120 * MiB,
    walKeepSize: 512 * MiB,
    socketDirectory: '/tmp',
    hugePages: 'off',
    logging: { minMessages: 'warning', toFiles: false, format: 'text' },
    connection: {
      superuserReservedConnections: 3, tcpKeepalivesIdleSeconds: 60, tcpKeepalivesIntervalSeconds: 10, tcpKeepalivesCount: 6,
    },
    overrides: {},
  });
  return { dcs, member };
}

let source = 'synthesized ConfigMap db-primary-config (patroni.yaml)';
let got: { dcs: Params; member: Params };
try {
  got = fromSynth();
} catch (e) {
  process.stderr.write(`tuning-params: synthesis failed (${(e as Error).message}); falling back to src/render\n`);
  source = 'FALLBACK: src/render tuneFromLimits + clusterParameters + memberParameters';
  got = fromRender();
}
const merged: Params = { ...got.dcs, ...got.member };
const kept: Params = {};
for (const [k, v] of Object.entries(merged)) if (!DROPPED.some((re) => re.test(k))) kept[k] = v;

if (process.argv.includes('--conf')) {
  process.stdout.write(`# L: library parameters for ${CPUS} CPUs / ${MEMORY_GIB} GiB, source: ${source}\n${confLines(kept)}`);
} else {
  process.stdout.write(JSON.stringify({ source, dcs: got.dcs, member: got.member, merged, used: kept }, null, 2) + '\n');
}
