import { scriptText } from './script-files';

/**
 * The program of the access Job (src/scripts/apply-access.py): applies the declared roles, databases, grants and extensions to
 * the primary, idempotently, and never drops anything (a role or database removed from the
 * declaration stays in the cluster). Passwords come from the users' Secrets through the
 * environment and only their SCRAM verifiers reach the server. Python 3 with psycopg2 (as the
 * image's Patroni uses).
 *
 * Environment: PGC_ACCESS (the declaration, JSON: users, databases, pooler), the password
 * variables it names, and libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT.
 */
export const APPLY_ACCESS_SCRIPT = scriptText('apply-access.py');
