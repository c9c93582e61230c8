import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WsraceMetrics } from './registry.js';

/** /metrics over HTTP for a scraper, while the run goes and for the linger after it. */
export class MetricsServer {
  private readonly server: Server;

  constructor(private readonly metrics: WsraceMetrics) {
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('wsrace serves /metrics\n');
        return;
      }
      this.metrics.text().then(
        (body) => res.writeHead(200, { 'content-type': this.metrics.contentType }).end(body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
    });
  }

  /** Listens; resolves with the port bound (port 0 picks a free one), rejects with the bind error (EADDRINUSE …). */
  listen(host: string | undefined, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops listening and ends the connections a scraper keeps alive. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
