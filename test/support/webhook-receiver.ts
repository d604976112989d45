/**
 * A loopback webhook receiver for e2e specs: records every request and answers 200; events are
 * read back verified with the standardwebhooks library and the endpoint's secret, as a real
 * receiver would (a bad signature throws).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface WebhookEvent {
  id: string;
  body: { type: string; timestamp: string; sequence: number; data: any };
}

export class LoopbackReceiver {
  private readonly got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hook`;
  }

  /** Every delivery so far, verified with `secret`. */
  events(secret: string): WebhookEvent[] {
    const wh = new Webhook(secret);
    return this.got.map((r) => ({
      id: String(r.headers['webhook-id']),
      body: wh.verify(r.body, r.headers as Record<string, string>) as WebhookEvent['body'],
    }));
  }
}
