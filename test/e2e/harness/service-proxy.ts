/**
 * A ClusterIP Service emulated as a TCP proxy on its own loopback IP: each new connection goes to
 * one of the endpoints (ready members whose labels match the selector) at that moment, as
 * kube-proxy does. Endpoints are refreshed in the background.
 */
import * as net from 'node:net';

/** A member as a Service sees it. */
export interface Endpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Options of {@link ServiceProxy}. */
export interface ServiceProxyOptions {
  readonly name: string;
  readonly listenHost: string;
  readonly listenPort: number;
  /** Current endpoints (ready pods the selector matches). */
  readonly endpoints: () => Promise<Endpoint[]>;
  readonly refreshMs?: number;
}

/** A running Service proxy. */
export class ServiceProxy {
  /** Starts listening. */
  public static async start(options: ServiceProxyOptions): Promise<ServiceProxy> {
    const proxy = new ServiceProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(options.listenPort, options.listenHost, () => resolve());
    });
    await proxy.refresh();
    return proxy;
  }

  private current: Endpoint[] = [];
  private next = 0;
  private readonly server: net.Server;
  private readonly timer: NodeJS.Timeout;
  private readonly sockets = new Set<net.Socket>();
  private inflight: Promise<void> | undefined;

  private constructor(private readonly options: ServiceProxyOptions) {
    this.server = net.createServer((client) => this.route(client));
    // The timer skips a tick while a refresh is under way (no backlog of refreshes).
    this.timer = setInterval(() => { if (!this.inflight) void this.refresh(); }, options.refreshMs ?? 250);
    this.timer.unref();
  }

  /** The endpoints as of the last refresh. */
  public get endpoints(): readonly Endpoint[] {
    return this.current;
  }

  /** Re-reads the endpoints now (after any refresh already under way, so the result is current). */
  public async refresh(): Promise<void> {
    while (this.inflight) await this.inflight;
    this.inflight = (async () => {
      try {
        this.current = await this.options.endpoints();
      } catch {
        this.current = [];
      }
    })();
    try {
      await this.inflight;
    } finally {
      this.inflight = undefined;
    }
  }

  private route(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    const eps = this.current;
    if (eps.length === 0) {
      client.destroy();
      return;
    }
    const ep = eps[this.next++ % eps.length];
    const upstream = net.connect(ep.port, ep.host);
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }

  /** Stops listening and closes every proxied connection. */
  public async close(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
