/** pgbouncer.ini, rendered from its inputs: routing, SCRAM auth through auth_query, pool settings, TLS. */
import { PgBouncerInput, renderPgBouncerIni } from '../../src/render/pgbouncer';

const BASE: PgBouncerInput = {
  serverHost: 'db-primary',
  serverPort: 5432,
  listenPort: 5432,
  poolMode: 'transaction',
  defaultPoolSize: 20,
  maxClientConnections: 1000,
  authUser: 'cdk8s_pgbouncer',
  authFile: '/etc/pgbouncer-auth/userlist.txt',
};

/** The ini as sections of key -> value (a repeated key fails). */
function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      out[section] = {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not a key = value line: ${line}`);
    const key = line.slice(0, eq).trim();
    if (key in out[section]) throw new Error(`${key} repeated`);
    out[section][key] = line.slice(eq + 1).trim();
  }
  return out;
}

describe('without TLS', () => {
  const text = renderPgBouncerIni(BASE);
  const ini = parseIni(text);

  test('exactly two sections; every database is routed to the server Service', () => {
    expect(Object.keys(ini)).toEqual(['databases', 'pgbouncer']);
    expect(ini.databases).toEqual({ '*': 'host=db-primary port=5432' });
  });

  test('the whole [pgbouncer] section', () => {
    expect(ini.pgbouncer).toEqual({
      listen_addr: '*',
      listen_port: '5432',
      unix_socket_dir: '',
      auth_type: 'scram-sha-256',
      auth_file: '/etc/pgbouncer-auth/userlist.txt',
      auth_user: 'cdk8s_pgbouncer',
      auth_query: 'SELECT usename, passwd FROM cdk8s_pgbouncer.get_auth($1)',
      pool_mode: 'transaction',
      default_pool_size: '20',
      max_client_conn: '1000',
      ignore_startup_parameters: 'extra_float_digits,options',
      server_reset_query: 'DISCARD ALL',
      // retry server logins quickly after a failover (PgBouncer's default waits 15 s)
      server_login_retry: '2',
    });
  });

  test('no TLS line at all; ends with a newline; no trust, md5 or plain auth', () => {
    expect(text).not.toMatch(/tls/);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toMatch(/auth_type = (trust|md5|plain|any)/);
  });
});

describe('with TLS', () => {
  const ini = parseIni(renderPgBouncerIni({
    ...BASE,
    clientTls: { certFile: '/etc/pgbouncer-tls/tls.crt', keyFile: '/etc/pgbouncer-tls/tls.key' },
    serverCaFile: '/etc/pgbouncer-ca/ca.crt',
  })).pgbouncer;

  test('clients must use TLS with the pooler\'s key pair', () => {
    expect(ini.client_tls_sslmode).toBe('require');
    expect(ini.client_tls_cert_file).toBe('/etc/pgbouncer-tls/tls.crt');
    expect(ini.client_tls_key_file).toBe('/etc/pgbouncer-tls/tls.key');
  });

  test('the server is verified (verify-full) against the CA', () => {
    expect(ini.server_tls_sslmode).toBe('verify-full');
    expect(ini.server_tls_ca_file).toBe('/etc/pgbouncer-ca/ca.crt');
  });

  test('auth is unchanged', () => {
    expect(ini.auth_type).toBe('scram-sha-256');
    expect(ini.auth_user).toBe('cdk8s_pgbouncer');
  });

  test('clients use TLS 1.3 unless the minimum is TLS 1.2 (then 1.2 and 1.3)', () => {
    expect(ini.client_tls_protocols).toBe('tlsv1.3');
    const tls12 = parseIni(renderPgBouncerIni({ ...BASE, clientTls: { certFile: '/c', keyFile: '/k', minVersion: 'TLSv1.2' } })).pgbouncer;
    expect(tls12.client_tls_protocols).toBe('tlsv1.2,tlsv1.3');
  });

  test('the server side alone can be verified without a client key pair', () => {
    const only = parseIni(renderPgBouncerIni({ ...BASE, serverCaFile: '/ca.crt' })).pgbouncer;
    expect(only.server_tls_sslmode).toBe('verify-full');
    expect(only.client_tls_sslmode).toBeUndefined();
  });
});

test.each([
  ['session', 5, 100, 'db-replicas', 6543],
  ['statement', 1, 1, 'orders-primary.shop.svc', 15432],
])('pool mode %s, pool size %d, %d clients, server %s:%d', (poolMode, size, clients, host, port) => {
  const input = { ...BASE, poolMode, defaultPoolSize: size, maxClientConnections: clients, serverHost: host, serverPort: port, listenPort: port };
  const ini = parseIni(renderPgBouncerIni(input));
  expect(ini.databases['*']).toBe(`host=${host} port=${port}`);
  expect(ini.pgbouncer).toMatchObject({
    pool_mode: poolMode, default_pool_size: String(size), max_client_conn: String(clients), listen_port: String(port),
  });
});
