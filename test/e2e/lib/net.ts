/** HTTP(S) requests of the tests: Patroni's REST API, the heartbeat and the exporter at pod IPs. */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tlsSocket from 'node:tls';

/** Result of {@link httpRequest}. */
export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** Options for {@link httpRequest}. */
export interface HttpRequestOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Serialised as JSON when given. */
  readonly json?: unknown;
  readonly timeoutMs?: number;
  /** Use HTTPS with these (PEM) files; `ca` unset means the server certificate is not verified (as the kubelet's probes). */
  readonly tls?: HttpsOptions;
}

/** TLS of {@link httpRequest}. */
export interface HttpsOptions {
  /** CA certificate that must have signed the server's (PEM). */
  readonly ca?: string;
  /** Client certificate and key (PEM), for endpoints that require one. */
  readonly cert?: string;
  readonly key?: string;
}

/** Performs one HTTP request without keep-alive (no sockets left open between tests). */
export function httpRequest(options: HttpRequestOptions): Promise<HttpResponse> {
  const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
  const tls = options.tls;
  const scheme = tls ? 'https' : 'http';
  const request = (tls ? https.request : http.request) as typeof https.request;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.host,
        port: options.port,
        path: options.path,
        method: options.method ?? 'GET',
        agent: false,
        headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        // The chain is verified against `ca`; the host name is not (members are reached by IP here).
        ...(tls ? {
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.ca !== undefined,
          checkServerIdentity: () => undefined,
        } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 3_000, () => {
      req.destroy(new Error(`${options.method ?? 'GET'} ${scheme}://${options.host}:${options.port}${options.path} timed out`));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Options for {@link servedSerial}. */
export interface ServedCertificateOptions extends HttpsOptions {
  /** Ask for TLS the PostgreSQL way first (SSLRequest), as PostgreSQL and PgBouncer expect. */
  readonly postgres?: boolean;
  readonly timeoutMs?: number;
}

/**
 * The serial number (hex, upper case) of the certificate a TLS server presents at host:port, the
 * chain verified against `ca` (not the name: servers are reached by IP here).
 */
export function servedSerial(host: string, port: number, options: ServedCertificateOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host, port });
    const fail = (err: Error) => {
      raw.destroy();
      reject(new Error(`TLS at ${host}:${port}: ${err.message}`));
    };
    raw.setTimeout(options.timeoutMs ?? 3_000, () => fail(new Error('timed out')));
    raw.on('error', fail);
    const handshake = () => {
      const s = tlsSocket.connect({
        socket: raw,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        rejectUnauthorized: options.ca !== undefined,
        checkServerIdentity: () => undefined,
      });
      s.on('error', fail);
      s.on('secureConnect', () => {
        const serial = s.getPeerCertificate().serialNumber;
        s.destroy();
        raw.destroy();
        resolve(serial.toUpperCase());
      });
    };
    raw.on('connect', () => {
      if (!options.postgres) return handshake();
      // SSLRequest: length 8, code 80877103; the server answers 'S' and starts TLS.
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4);
      raw.once('data', (b: Buffer) => (b[0] === 0x53 ? handshake() : fail(new Error(`SSLRequest answered ${JSON.stringify(b.toString('latin1'))}`))));
      raw.write(req);
    });
  });
}
