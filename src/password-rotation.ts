import { IConstruct } from 'constructs';
import { PasswordRotationOptions, UserOptions } from './access';
import { propError, requireInteger } from './errors';

/** Highest rotation counter accepted: far above any real use, well within a JSON/Python int. */
const MAX_ROTATION = 1_000_000;

/** Why each library-owned role cannot be rotated yet (see PasswordRotationOptions). */
const REFUSED: Record<keyof PasswordRotationOptions, string> = {
  superuser: 'Patroni reads the superuser password from its environment when it starts and connects with it, so a new password needs every member restarted; rotating it is not supported yet',
  replication: "Patroni puts the replication password, read from its environment at start, into every replica's primary_conninfo, so a replica that reconnects after the change stops replicating until it restarts; rotating it is not supported yet",
  monitoring: 'the metrics exporter reads the monitoring password from its environment when it starts, so scraping would fail until every member restarts; rotating it is not supported yet',
  pooler: 'PgBouncer reads its userlist.txt only at start and on reload, so logins through the pooler would fail until every pooler pod restarts; rotating it is not supported yet',
};

/**
 * The validated rotation counter of a declared user (0 when unset): a whole number from 0 to
 * 1,000,000, and only for a login user.
 *
 * @internal
 */
export function checkedUserRotation(scope: IConstruct, where: string, options: UserOptions): number {
  const rotation = options.passwordRotation ?? 0;
  requireInteger(scope, `${where}.passwordRotation`, rotation, 0, MAX_ROTATION);
  if (rotation > 0 && !(options.login ?? true)) {
    throw propError(scope, `${where}.passwordRotation`, rotation, 'needs a login user (login is false: the role has no password to rotate)');
  }
  return rotation;
}

/**
 * Checks the rotation counters of the library's own roles: each must be a whole number, and 0
 * (none can be rotated safely yet; the error says why).
 *
 * @internal
 */
export function checkSystemRotations(scope: IConstruct, options: PasswordRotationOptions | undefined): void {
  for (const key of Object.keys(REFUSED) as Array<keyof PasswordRotationOptions>) {
    const value = options?.[key] ?? 0;
    requireInteger(scope, `config.connection.passwordRotation.${key}`, value, 0, MAX_ROTATION);
    if (value !== 0) throw propError(scope, `config.connection.passwordRotation.${key}`, value, `must be 0: ${REFUSED[key]}`);
  }
}
