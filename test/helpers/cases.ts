/** The synthesized outputs the schema and invariant tests check: every example and a few prop variants. */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Manifest, exampleManifests, exampleNames, synthCluster, synthWith } from './manifests';
import {
  FailoverTiming, LogFormat, LogLevel, PatroniDcs, PostgresCluster, PostgresImage, ReplicationMode, Resources,
} from '../../src';

/** One synthesized output. */
export interface SynthCase {
  readonly name: string;
  readonly manifests: () => Manifest[];
  /** Secrets the user passed in (they exist in the cluster but are not in the output). */
  readonly userSecrets: readonly string[];
}

/** Every example, synthesized through its buildApp() and parsed back from YAML. */
export function exampleCases(): SynthCase[] {
  return exampleNames().map((name) => ({ name: `example ${name}`, manifests: () => exampleManifests(name), userSecrets: [] }));
}

/** Prop variants that exercise the other code paths. */
export function variantCases(): SynthCase[] {
  return [
    { name: 'zero props in a namespace', manifests: () => synthCluster({}, { namespace: 'team-a' }), userSecrets: [] },
    { name: 'endpoints DCS', manifests: () => synthCluster({ dcs: PatroniDcs.ENDPOINTS }), userSecrets: [] },
    { name: 'single instance', manifests: () => synthCluster({ replicas: { count: 0 } }), userSecrets: [] },
    {
      name: 'strict synchronous, crunchy image, fast timings',
      manifests: () => synthCluster({
        clusterName: 'ledger',
        image: PostgresImage.crunchy(16),
        replicas: { count: 3, resources: Resources.MEDIUM },
        config: {
          resources: Resources.of({
            cpu: kplus.Cpu.millis(250), memory: Size.mebibytes(512), memoryLimit: Size.gibibytes(1), cpuLimit: kplus.Cpu.units(1),
          }),
          connection: { maxConnections: 500 },
          replication: { mode: ReplicationMode.SYNCHRONOUS_STRICT, synchronousStandbys: 2 },
        },
        storage: { size: Size.gibibytes(1), storageClassName: 'standard' },
        failoverTiming: FailoverTiming.FAST,
        requireSeparateNodes: true,
      }),
      userSecrets: [],
    },
    {
      name: 'delayed replicas, custom port, synchronous',
      manifests: () => synthCluster({
        replicas: { count: 2 },
        delayedReplicas: { count: 2, applyDelay: Duration.minutes(30), resources: Resources.MEDIUM },
        config: {
          database: { name: 'shop', port: 6543 },
          replication: { mode: ReplicationMode.SYNCHRONOUS, synchronousStandbys: 2 },
        },
      }, { namespace: 'shop' }),
      userSecrets: [],
    },
    {
      name: 'JSON file logging',
      manifests: () => synthCluster({
        config: { database: { logFormat: LogFormat.JSON, logLevel: LogLevel.INFO, logStatementsSlowerThan: Duration.millis(500) } },
      }),
      userSecrets: [],
    },
    {
      name: 'user-supplied secrets',
      manifests: () => synthWith((chart) => {
        new PostgresCluster(chart, 'db', {
          superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'my-superuser'),
          replicationSecret: kplus.Secret.fromSecretName(chart, 'repl', 'my-replication'),
        });
      }),
      userSecrets: ['my-superuser', 'my-replication'],
    },
    {
      name: 'one user-supplied secret',
      manifests: () => synthWith((chart) => {
        new PostgresCluster(chart, 'db', { superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'my-superuser') });
      }),
      userSecrets: ['my-superuser'],
    },
  ];
}

/** Examples and variants. */
export function allCases(): SynthCase[] {
  return [...exampleCases(), ...variantCases()];
}
