/** `init`: scaffolds a cdk8s app with a PostgresCluster (or a spec file for `synth`) in a folder. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { basename, join, resolve } from 'path';
import { CliError, EXIT_USAGE } from '../exit';
import { SPEC_API_VERSION, SPEC_KIND } from '../spec/cluster-spec';
import { PLUGIN_CLASS, PLUGIN_PATH } from '../validation-plugin';

export type InitLanguage = 'typescript' | 'javascript';

export interface InitOptions {
  readonly dir: string;
  /** The cluster's name (and the chart's). */
  readonly name: string;
  readonly language: InitLanguage;
  /** Write a spec file for `synth` instead of an app. */
  readonly spec: boolean;
  readonly force: boolean;
}

interface OwnPackage {
  readonly name: string;
  readonly version: string;
  readonly peerDependencies: Record<string, string>;
}

/** This package's name, version and peer dependencies (the app needs the same cdk8s, constructs, cdk8s-plus-27). */
export function ownPackage(): OwnPackage {
  // lib/cli/commands/init.js and src/cli/commands/init.ts are both three levels below package.json.
  return JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as OwnPackage;
}

/** The spec file `init --spec` writes: every commonly used field, with the defaults spelled out. */
export function specTemplate(name: string): string {
  return `# A PostgreSQL cluster for \`cdk8s-postgres-cluster synth ${name}.yaml\`.
# spec mirrors the PostgresCluster props; every field is optional. See the README for all fields.
apiVersion: ${SPEC_API_VERSION}
kind: ${SPEC_KIND}
metadata:
  name: ${name}
  # namespace: databases
spec:
  postgresVersion: 17
  replicas:
    count: 2
    mode: asynchronous        # or synchronous, synchronous-strict
  resources:                  # every member; or a preset: micro, small, medium, large, xlarge
    cpu: 500m
    memory: 1Gi
  storage:
    size: 10Gi
    # storageClassName: fast-ssd
  tls: cert-manager           # or disabled
  monitoring:
    metrics:
      podMonitor: false
  databases:
    - name: app
`;
}

function appSource(name: string, language: InitLanguage): string {
  const imports = language === 'typescript'
    ? "import { App, Chart, Size } from 'cdk8s';\nimport { PostgresCluster, ReplicationMode, Resources } from 'cdk8s-postgres-cluster';"
    : "const { App, Chart, Size } = require('cdk8s');\nconst { PostgresCluster, ReplicationMode, Resources } = require('cdk8s-postgres-cluster');";
  return `${imports}

// One primary and two streaming replicas; \`npx cdk8s synth\` writes dist/${name}.k8s.yaml.
// recordConstructMetadata: false keeps dist/ to manifests only, so \`kubectl apply -f dist/\` works
// (with validations in cdk8s.yaml, cdk8s would also write dist/construct-metadata.json).
const app = new App({ recordConstructMetadata: false });
const chart = new Chart(app, '${name}');
new PostgresCluster(chart, '${name}', {
  replicas: { count: 2 },
  storage: { size: Size.gibibytes(10) },
  config: {
    resources: Resources.SMALL,
    replication: { mode: ReplicationMode.ASYNCHRONOUS },
  },
});
app.synth();
`;
}

/** The files `init` writes, by name. */
export function initFiles(options: Omit<InitOptions, 'dir' | 'force'> & { appName: string }): Record<string, string> {
  if (options.spec) return { [`${options.name}.yaml`]: specTemplate(options.name) };
  const own = ownPackage();
  const ts = options.language === 'typescript';
  const main = ts ? 'main.ts' : 'main.js';
  const pkg = {
    name: options.appName,
    version: '0.1.0',
    private: true,
    scripts: {
      synth: 'cdk8s synth',
      validate: 'cdk8s-postgres-cluster validate dist',
      diagram: 'cdk8s-postgres-cluster diagram dist --out-dir dist',
    },
    dependencies: {
      [own.name]: `^${own.version}`,
      ...own.peerDependencies,
    },
    devDependencies: {
      'cdk8s-cli': '^2',
      ...(ts ? { 'typescript': '^5', 'ts-node': '^10', '@types/node': '^20' } : {}),
    },
  };
  const files: Record<string, string> = {
    [main]: appSource(options.name, options.language),
    'cdk8s.yaml': [
      'language: typescript',
      `app: ${ts ? 'npx ts-node main.ts' : 'node main.js'}`,
      '# `cdk8s synth` runs the checks of `cdk8s-postgres-cluster validate` on what it writes (--no-validate skips them).',
      'validations:',
      `  - package: ${PLUGIN_PATH}`,
      `    version: ${own.version}`,
      `    class: ${PLUGIN_CLASS}`,
      '',
    ].join('\n'),
    'package.json': `${JSON.stringify(pkg, null, 2)}\n`,
    '.gitignore': 'node_modules/\ndist/\n',
  };
  if (ts) {
    files['tsconfig.json'] = `${JSON.stringify({
      compilerOptions: { target: 'ES2020', module: 'commonjs', strict: true, esModuleInterop: true, skipLibCheck: true },
      include: ['main.ts'],
    }, null, 2)}\n`;
  }
  return files;
}

/** Writes the scaffold; refuses to overwrite a file unless forced. Returns the files written. */
export function runInit(options: InitOptions): string[] {
  const dir = resolve(options.dir);
  const appName = basename(dir).toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'postgres-app';
  const files = initFiles({ ...options, appName });
  const clashes = Object.keys(files).filter((f) => existsSync(join(dir, f)));
  if (clashes.length > 0 && !options.force) {
    throw new CliError(`${options.dir}: ${clashes.join(', ')} already exist${clashes.length === 1 ? 's' : ''}; use --force to overwrite or run init in an empty folder`, EXIT_USAGE);
  }
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return Object.keys(files);
}
