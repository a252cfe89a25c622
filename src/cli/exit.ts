/** Exit codes of the CLI, and the error that carries one. */

/** 0: done, no error findings. */
export const EXIT_OK = 0;
/** 1: validation findings (errors), or the cluster's props were refused by the construct. */
export const EXIT_FINDINGS = 1;
/** 2: usage: bad flags, a missing file, a file that is not YAML or JSON, an unknown or bad spec field. */
export const EXIT_USAGE = 2;

/** 3: the cluster (or the member named) does not exist in the namespace. */
export const EXIT_NOT_FOUND = 3;
/** 4: the Kubernetes API is not reachable (or answered with a server error). */
export const EXIT_UNREACHABLE = 4;
/** 5: the Kubernetes API refused the credentials or the request (401/403). */
export const EXIT_NOT_ALLOWED = 5;
/** 6: an operation was asked for but did not complete (a switchover refused, a backup Job failed, either not done in time). */
export const EXIT_FAILED = 6;

/** The exit codes as `--help` and the README list them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success (validate: no error findings)
  1  validation findings, or the construct refused the spec's values
  2  usage error: bad flags, missing file, unparsable YAML/JSON, unknown or invalid spec field
  3  status, switchover, backup, restart, dashboard: the cluster, member or repository does not exist in the namespace
  4  status, switchover, backup, restart, dashboard: the Kubernetes API is not reachable
  5  status, switchover, backup, restart, dashboard: the Kubernetes API refused the credentials or the request
  6  switchover, backup: not done (refused, failed, or not finished in time)`;

/** An error to report on stderr (without a stack trace) and exit with. */
export class CliError extends Error {
  constructor(message: string, public readonly exitCode: number) {
    super(message);
    this.name = 'CliError';
  }
}
