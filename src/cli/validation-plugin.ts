/**
 * A cdk8s validation plugin: `cdk8s synth` (with `--validate`, its default) runs the checks of
 * `validate` over the manifests it wrote. In cdk8s.yaml (`init` writes this):
 *
 *   validations:
 *     - package: ./node_modules/cdk8s-postgres-cluster/lib/cli/validation-plugin.js
 *       version: <the installed version>
 *       class: PostgresClusterValidation
 *       properties: { checks: [schema, restricted] }   # optional: only these checks
 *
 * It implements cdk8s-cli's Validation contract by shape, without depending on cdk8s-cli.
 */
import { readFileSync } from 'fs';
import { relative } from 'path';
import { ManifestFile } from './files';
import { locate } from './report';
import { CHECKS, runChecks } from '../validate/checks';
import { isObjectDocument } from '../validate/guard';
import { Manifest, parseManifests } from '../validate/manifest';
import { prerequisiteLines, prerequisites } from '../validate/prerequisites';

/** The path, from a cdk8s app's folder, of this plugin in the installed package. */
export const PLUGIN_PATH = './node_modules/cdk8s-postgres-cluster/lib/cli/validation-plugin.js';
export const PLUGIN_CLASS = 'PostgresClusterValidation';

/** What cdk8s-cli's ValidationContext offers that the plugin uses. */
export interface PluginContext {
  readonly manifests: readonly string[];
  readonly report: {
    addViolation(violation: {
      ruleName: string;
      recommendation: string;
      fix: string;
      violatingResources: Array<{ resourceName: string; locations: string[]; manifestPath: string }>;
    }): void;
    submit(status: 'success' | 'failure', metadata?: Record<string, string>): void;
  };
  readonly logger: { log(message: string): void };
}

/** The plugin's properties (cdk8s.yaml `properties`). */
export interface PluginProperties {
  /** Only these checks (default: all). */
  readonly checks?: string[];
  /** The CNI of the target cluster (`cilium`, `calico`, …), for the api-server check. */
  readonly cni?: string;
}

/** The validation plugin class cdk8s-cli instantiates. */
export class PostgresClusterValidation {
  constructor(private readonly properties: PluginProperties = {}) {}

  public async validate(context: PluginContext): Promise<void> {
    const files: ManifestFile[] = context.manifests.map((path) => ({
      file: relative(process.cwd(), path) || path,
      manifests: parseManifests(readFileSync(path, 'utf8')).filter((m: Manifest) => typeof m?.kind === 'string' && typeof m?.metadata?.name === 'string'),
    }));
    const findings = locate(files, runChecks(files.flatMap((f) => f.manifests), this.properties.checks, { cni: this.properties.cni }));
    const errors = findings.filter((f) => f.severity === 'error');
    for (const check of CHECKS) {
      const mine = errors.filter((f) => f.check === check.name);
      if (mine.length === 0) continue;
      context.report.addViolation({
        ruleName: `cdk8s-postgres-cluster/${check.name}`,
        recommendation: check.description,
        fix: 'each location names the object and the rule it breaks; `npx cdk8s-postgres-cluster validate dist` reports the same',
        violatingResources: mine.map((f) => ({ resourceName: f.object, locations: [f.message], manifestPath: f.file })),
      });
    }
    for (const w of findings.filter((f) => f.severity === 'warning')) context.logger.log(`warning [${w.check}] ${w.message}`);
    // What the manifests need in the cluster but do not contain (malformed objects may hide some).
    let needs: string[] = [];
    try {
      needs = prerequisiteLines(prerequisites(files.flatMap((f) => f.manifests).filter(isObjectDocument)));
    } catch {
      needs = [];
    }
    for (const line of needs) context.logger.log(`needed in the cluster before kubectl apply: ${line}`);
    const objects = files.reduce((n, f) => n + f.manifests.length, 0);
    context.report.submit(errors.length > 0 ? 'failure' : 'success', { objects: String(objects), errors: String(errors.length) });
  }
}
