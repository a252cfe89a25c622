/** HTTP(S) requests of the tests: Patroni's REST API, the heartbeat and the exporter at pod IPs. */
import * as http from 'node:http';
import * as https from 'node:https';

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
