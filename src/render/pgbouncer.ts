/** What a PgBouncer configuration is rendered from. */
export interface PgBouncerInput {
  /** Server host: the read-write (or read-only) Service. */
  readonly serverHost: string;
  readonly serverPort: number;
  readonly listenPort: number;
  readonly poolMode: string;
  readonly defaultPoolSize: number;
  readonly maxClientConnections: number;
  readonly authUser: string;
  readonly authFile: string;
  /** Client-side TLS key pair and the oldest version clients may use (`TLSv1.2`/`TLSv1.3`), when TLS is on. */
  readonly clientTls?: { readonly certFile: string; readonly keyFile: string; readonly minVersion?: string };
  /** CA that verifies the server, when TLS is on. */
  readonly serverCaFile?: string;
}

/**
 * pgbouncer.ini: every database is routed to the server Service; clients authenticate with
 * SCRAM against the verifier PgBouncer looks up through `cdk8s_pgbouncer.get_auth()` (as a role
 * that can read nothing else), and with TLS, clients must use TLS and the server is verified.
 */
export function renderPgBouncerIni(input: PgBouncerInput): string {
  const lines = [
    '[databases]',
    `* = host=${input.serverHost} port=${input.serverPort}`,
    '',
    '[pgbouncer]',
    // Every address, IPv4 and IPv6.
    'listen_addr = *',
    `listen_port = ${input.listenPort}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${input.authFile}`,
    `auth_user = ${input.authUser}`,
    'auth_query = SELECT usename, passwd FROM cdk8s_pgbouncer.get_auth($1)',
    `pool_mode = ${input.poolMode}`,
    `default_pool_size = ${input.defaultPoolSize}`,
    `max_client_conn = ${input.maxClientConnections}`,
    'ignore_startup_parameters = extra_float_digits,options',
    'server_reset_query = DISCARD ALL',
    // After a failover the read-write Service briefly has no endpoint: retry logins within
    // seconds (the default waits 15 s).
    'server_login_retry = 2',
  ];
  if (input.clientTls) {
    lines.push('client_tls_sslmode = require', `client_tls_cert_file = ${input.clientTls.certFile}`, `client_tls_key_file = ${input.clientTls.keyFile}`);
    // The same minimum as the server's ssl_min_protocol_version.
    lines.push(`client_tls_protocols = ${input.clientTls.minVersion === 'TLSv1.2' ? 'tlsv1.2,tlsv1.3' : 'tlsv1.3'}`);
  }
  if (input.serverCaFile) {
    lines.push('server_tls_sslmode = verify-full', `server_tls_ca_file = ${input.serverCaFile}`);
  }
  return lines.join('\n') + '\n';
}
