/** `validate`: runs the library's checks over folders or files of synthesized YAML. */
import { CHECKS, runChecks } from '../../validate/checks';
import { isObjectDocument } from '../../validate/guard';
import { Prerequisite, prerequisites } from '../../validate/prerequisites';
import { CliError, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE } from '../exit';
import { readManifestFiles } from '../files';
import { jsonReport, locate, textReport } from '../report';

export interface ValidateOptions {
  readonly checks?: readonly string[];
  readonly json?: boolean;
  /** The CNI of the Kubernetes cluster (`cilium`, `calico`, …), for the api-server check. */
  readonly cni?: string;
}

/** The report to print and the exit code. */
export function validatePaths(paths: readonly string[], options: ValidateOptions = {}): { report: string; exitCode: number } {
  const files = readManifestFiles(paths);
  const all = files.flatMap((f) => f.manifests);
  let findings;
  try {
    findings = runChecks(all, options.checks, { cni: options.cni });
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
  const located = locate(files, findings);
  const checks = options.checks?.length ?? CHECKS.length;
  // What the objects need but do not contain; malformed objects (reported above) may hide some.
  let needs: Prerequisite[] = [];
  try {
    needs = prerequisites(all.filter(isObjectDocument));
  } catch {
    needs = [];
  }
  const report = options.json ? jsonReport(files, located, needs) : textReport(files, located, checks, needs);
  return { report, exitCode: located.some((f) => f.severity === 'error') ? EXIT_FINDINGS : EXIT_OK };
}
