/**
 * A fake IPP printer on loopback (node:http or node:https), written for the tests from
 * RFC 8010/8011 independently of src/cli/ipp.ts: it answers Get-Printer-Attributes and
 * Print-Job and keeps every request it received (operation, attributes, document bytes)
 * so a test can read the printed PDF back. Debian's ippeveprinter (cups-ipp-utils 2.4)
 * was tried first: it refuses to start without a DNS-SD daemon ("Unable to initialize
 * DNS-SD"), which a test machine does not run.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface ReceivedRequest {
  operation: number;
  /** Operation attributes by name (string values; integers as numbers). */
  attributes: Map<string, Array<string | number | boolean>>;
  document: Buffer;
  /** The whole HTTP body as received. */
  raw: Buffer;
}

export interface FakePrinterOptions {
  formats?: string[];
  accepting?: boolean;
  /** Print-Job: read the whole document, then drop the connection without an answer. */
  dropAfterDocument?: boolean;
  tls?: boolean;
}

export interface FakePrinter {
  uri: string;
  /** SHA-256 of the certificate (tls only), as `AB:CD:…`. */
  fingerprint?: string;
  received: ReceivedRequest[];
  jobs(): ReceivedRequest[];
  close(): Promise<void>;
}

function decodeRequest(raw: Buffer): ReceivedRequest {
  const operation = raw.readUInt16BE(2);
  const attributes = new Map<string, Array<string | number | boolean>>();
  let i = 8;
  let name = '';
  for (;;) {
    const tag = raw[i++]!;
    if (tag === 0x03) break;
    if (tag < 0x10) continue;
    const nl = raw.readUInt16BE(i);
    if (nl) name = raw.toString('utf8', i + 2, i + 2 + nl);
    i += 2 + nl;
    const vl = raw.readUInt16BE(i);
    const v = raw.subarray(i + 2, i + 2 + vl);
    i += 2 + vl;
    const value = tag === 0x21 || tag === 0x23 ? v.readInt32BE(0) : tag === 0x22 ? v[0] === 1 : v.toString('utf8');
    attributes.set(name, [...(attributes.get(name) ?? []), value]);
  }
  return { operation, attributes, document: raw.subarray(i), raw };
}

function attr(tag: number, name: string, values: Buffer[]): Buffer {
  return Buffer.concat(
    values.flatMap((v, k) => {
      const n = Buffer.from(k === 0 ? name : '');
      const h = Buffer.alloc(5 + n.length);
      h[0] = tag;
      h.writeUInt16BE(n.length, 1);
      n.copy(h, 3);
      h.writeUInt16BE(v.length, 3 + n.length);
      return [h, v];
    }),
  );
}
const int = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

function response(status: number, requestId: number, groups: Buffer[]): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h[1] = 1;
  h.writeUInt16BE(status, 2);
  h.writeUInt32BE(requestId, 4);
  const op = Buffer.concat([
    Buffer.from([0x01]),
    attr(0x47, 'attributes-charset', [Buffer.from('utf-8')]),
    attr(0x48, 'attributes-natural-language', [Buffer.from('en')]),
  ]);
  return Buffer.concat([h, op, ...groups, Buffer.from([0x03])]);
}

export async function startFakePrinter(o: FakePrinterOptions = {}): Promise<FakePrinter> {
  const formats = o.formats ?? ['application/octet-stream', 'application/pdf', 'image/pwg-raster'];
  const received: ReceivedRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const r = decodeRequest(raw);
      received.push(r);
      const requestId = raw.readUInt32BE(4);
      res.setHeader('Content-Type', 'application/ipp');
      if (r.operation === 0x000b) {
        const printer = Buffer.concat([
          Buffer.from([0x04]),
          attr(0x22, 'printer-is-accepting-jobs', [Buffer.from([o.accepting === false ? 0 : 1])]),
          attr(
            0x49,
            'document-format-supported',
            formats.map((f) => Buffer.from(f)),
          ),
          attr(0x23, 'printer-state', [int(3)]),
          attr(0x41, 'printer-make-and-model', [Buffer.from('kagi fake printer')]),
          // A collection, as real printers send (media-col-default): the client must skip it.
          attr(0x34, 'media-col-default', [Buffer.alloc(0)]),
          attr(0x4a, '', [Buffer.from('media-size-name')]),
          attr(0x44, '', [Buffer.from('iso_a4_210x297mm')]),
          attr(0x37, '', [Buffer.alloc(0)]),
        ]);
        res.end(response(0x0000, requestId, [printer]));
        return;
      }
      if (r.operation === 0x0002) {
        if (o.dropAfterDocument) {
          req.socket.destroy();
          return;
        }
        const job = Buffer.concat([Buffer.from([0x02]), attr(0x21, 'job-id', [int(received.length)]), attr(0x23, 'job-state', [int(9)])]);
        res.end(response(0x0000, requestId, [job]));
        return;
      }
      res.end(response(0x0501, requestId, []));
    });
  };
  let server: Server;
  let fingerprint: string | undefined;
  if (o.tls) {
    const dir = mkdtempSync(join(tmpdir(), 'kagi-printer-cert-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=printer.local',
      ].concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    const key = readFileSync(join(dir, 'key.pem'));
    rmSync(dir, { recursive: true, force: true });
    const der = Buffer.from(
      cert
        .toString()
        .replace(/-----[^-]+-----/g, '')
        .replace(/\s+/g, ''),
      'base64',
    );
    fingerprint = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
    server = createHttpsServer({ cert, key }, handler);
  } else {
    server = createHttpServer(handler);
  }
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  return {
    uri: `${o.tls ? 'ipps' : 'ipp'}://127.0.0.1:${port}/ipp/print`,
    fingerprint,
    received,
    jobs: () => received.filter((r) => r.operation === 0x0002),
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}
