/**
 * HTTP/1.1 over a bare socket, for what fetch refuses to send: CR/LF and raw bytes in
 * header values, duplicate or conflicting headers. The answer is recorded for the secret
 * sweep like every fetch answer.
 */
import { connect } from 'node:net';
import { recordAnswer } from './recording';

export interface RawAnswer {
  status: number;
  /** Lower-cased names; repeated headers keep every value. */
  headers: Record<string, string[]>;
  body: Buffer;
  /** The JSON body, when it parses. */
  json: any;
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(b.subarray(i, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/**
 * Sends `head` (request line and header lines, CRLF-separated, without the blank line)
 * and `body` exactly as given; `Connection: close` is appended so the answer ends with
 * the connection.
 */
export function rawRequest(
  baseUrl: string,
  head: string | Buffer,
  body: Buffer | string = Buffer.alloc(0),
  timeoutMs = 70_000,
): Promise<RawAnswer> {
  const u = new URL(baseUrl);
  const payload = Buffer.concat([
    Buffer.isBuffer(head) ? head : Buffer.from(head, 'latin1'),
    Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1'),
    Buffer.from(body),
  ]);
  return new Promise((res, rej) => {
    const sock = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      rej(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const sep = raw.indexOf('\r\n\r\n');
      const headText = raw.subarray(0, sep < 0 ? raw.length : sep).toString('latin1');
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const headers: Record<string, string[]> = {};
      for (const l of lines) {
        const c = l.indexOf(':');
        if (c > 0) (headers[l.slice(0, c).trim().toLowerCase()] ??= []).push(l.slice(c + 1).trim());
      }
      let bodyBytes: Buffer = sep < 0 ? Buffer.alloc(0) : raw.subarray(sep + 4);
      if (headers['transfer-encoding']?.some((v) => /chunked/i.test(v))) bodyBytes = dechunk(bodyBytes);
      let json: any;
      try {
        json = JSON.parse(bodyBytes.toString('utf8'));
      } catch {
        json = undefined;
      }
      const requestLine = (Buffer.isBuffer(head) ? head.toString('latin1') : head).split('\r\n')[0] ?? '';
      const [method = '?', path = '?'] = requestLine.split(' ');
      recordAnswer({
        method,
        url: `${u.origin}${path}`,
        status,
        headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.join(', ')])),
        body: bodyBytes,
      });
      res({ status, headers, body: bodyBytes, json });
    });
    sock.write(payload);
  });
}
