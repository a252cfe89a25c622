/** Exit codes of the CLI, and the error that carries one. */

/** 0: done, no error findings. */
export const EXIT_OK = 0;
/** 1: validation findings (errors), or the cluster's props were refused by the construct. */
export const EXIT_FINDINGS = 1;
/** 2: usage: bad flags, a missing file, a file that is not YAML or JSON, an unknown or bad spec field. */
export const EXIT_USAGE = 2;

/** The exit codes as `--help` and the README list them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success (validate: no error findings)
  1  validation findings, or the construct refused the spec's values
  2  usage error: bad flags, missing file, unparsable YAML/JSON, unknown or invalid spec field`;

/** An error to report on stderr (without a stack trace) and exit with. */
export class CliError extends Error {
  constructor(message: string, public readonly exitCode: number) {
    super(message);
    this.name = 'CliError';
  }
}
