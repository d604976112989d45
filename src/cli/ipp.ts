/**
 * A minimal IPP/1.1 client (RFC 8010 encoding, RFC 8011 semantics) for the secure room:
 * Get-Printer-Attributes (is the printer there, accepting jobs, taking application/pdf?)
 * and Print-Job (the PDF, from memory). Written here rather than taken from npm: the
 * `ipp` package (2.0.1, last published Dec 2024) builds its requests with the deprecated
 * `url.parse`, logs to the console from inside the library and gives no hook on the
 * connection, while the secure room needs exactly that hook: the PDF may leave only over
 * `ipps://` to a printer whose certificate matches a pinned SHA-256 fingerprint, or over
 * `ipp://` to a loopback address (a USB printer through ipp-usb). Two operations need
 * about 150 lines; nothing is spooled to disk and the job name carries no user data.
 */
import { lookup } from 'node:dns/promises';
import { request } from 'node:http';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const VERSION = [1, 1] as const;
const OP_PRINT_JOB = 0x0002;
const OP_GET_PRINTER_ATTRIBUTES = 0x000b;
const TAG = {
  operation: 0x01,
  job: 0x02,
  end: 0x03,
  printer: 0x04,
  integer: 0x21,
  boolean: 0x22,
  enum: 0x23,
  begCollection: 0x34,
  endCollection: 0x37,
  nameWithoutLanguage: 0x42,
  keyword: 0x44,
  uri: 0x45,
  charset: 0x47,
  naturalLanguage: 0x48,
  mimeMediaType: 0x49,
} as const;
/** Printed on the job list of the printer: nothing about the investor. */
const JOB_NAME = 'kagi';
const TIMEOUT_MS = 30_000;
const MAX_RESPONSE = 1 << 20;

export class PrinterError extends Error {
  constructor(
    message: string,
    /** True once document bytes went to the printer without a refusal: a sheet may exist. */
    readonly mayHavePrinted = false,
  ) {
    super(message);
    this.name = 'PrinterError';
  }
}

export interface PrinterTarget {
  uri: URL;
  /** SHA-256 of the printer's certificate (DER), upper-case hex without colons; ipps only. */
  fingerprint?: string;
}

export function normalizeFingerprint(v: string): string {
  const hex = v.replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new Error('--printer-fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed)');
  return hex;
}

function isLoopbackAddress(a: string): boolean {
  return /^127\./.test(a) || a === '::1' || a === '::ffff:127.0.0.1';
}

/** Refuses any printer URI but `ipps://` with a pinned certificate or `ipp://` to loopback. */
export function printerTarget(uri: string, fingerprint?: string): PrinterTarget {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new Error(`--print ${uri} is not a URI; use ipps://host/path with --printer-fingerprint, or ipp://127.0.0.1:port/path`);
  }
  if (u.username || u.password) throw new Error('--print must not carry credentials in the URI');
  if (u.protocol === 'ipps:') {
    if (!fingerprint) throw new Error('--print ipps:// needs --printer-fingerprint <sha256 of the printer certificate>');
    return { uri: u, fingerprint: normalizeFingerprint(fingerprint) };
  }
  if (u.protocol === 'ipp:') {
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (!(host === 'localhost' || (isIP(host) && isLoopbackAddress(host))))
      throw new Error(`--print ipp:// is refused to ${host}: plain IPP only to loopback (ipp-usb); use ipps:// with --printer-fingerprint`);
    if (fingerprint) throw new Error('--printer-fingerprint applies to ipps:// only');
    return { uri: u };
  }
  throw new Error(`--print ${u.protocol}// is refused: use ipps:// (certificate pinned) or ipp:// to loopback`);
}

// ---- encoding (RFC 8010 §3) ----

function attr(tag: number, name: string, values: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  values.forEach((v, i) => {
    const n = Buffer.from(i === 0 ? name : '', 'utf8');
    const val = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    const head = Buffer.alloc(1 + 2 + n.length + 2);
    head[0] = tag;
    head.writeUInt16BE(n.length, 1);
    n.copy(head, 3);
    head.writeUInt16BE(val.length, 3 + n.length);
    parts.push(head, val);
  });
  return Buffer.concat(parts);
}

function encodeRequest(op: number, requestId: number, attrs: Buffer[]): Buffer {
  const head = Buffer.alloc(8);
  head[0] = VERSION[0];
  head[1] = VERSION[1];
  head.writeUInt16BE(op, 2);
  head.writeUInt32BE(requestId, 4);
  return Buffer.concat([head, Buffer.from([TAG.operation]), ...attrs, Buffer.from([TAG.end])]);
}

export interface IppResponse {
  status: number;
  requestId: number;
  /** group tag → attribute name → values (top level only; collections are skipped). */
  groups: Array<{ tag: number; attrs: Map<string, Array<string | number | boolean>> }>;
}

export function decodeResponse(b: Buffer): IppResponse {
  if (b.length < 9) throw new PrinterError('the printer sent a truncated IPP response');
  const res: IppResponse = { status: b.readUInt16BE(2), requestId: b.readUInt32BE(4), groups: [] };
  let i = 8;
  let group: IppResponse['groups'][number] | undefined;
  let last = '';
  let depth = 0;
  while (i < b.length) {
    const tag = b[i++]!;
    if (tag === TAG.end) return res;
    if (tag < 0x10) {
      group = { tag, attrs: new Map() };
      res.groups.push(group);
      continue;
    }
    if (i + 2 > b.length) break;
    const nl = b.readUInt16BE(i);
    const name = b.toString('utf8', i + 2, i + 2 + nl);
    i += 2 + nl;
    if (i + 2 > b.length) break;
    const vl = b.readUInt16BE(i);
    const raw = b.subarray(i + 2, i + 2 + vl);
    i += 2 + vl;
    if (i > b.length) break;
    if (tag === TAG.begCollection) {
      if (depth === 0 && nl) last = name;
      depth++;
      continue;
    }
    if (tag === TAG.endCollection) {
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (depth > 0 || !group) continue;
    if (nl) last = name;
    const value =
      tag === TAG.integer || tag === TAG.enum
        ? raw.readInt32BE(0)
        : tag === TAG.boolean
          ? raw[0] === 1
          : tag >= 0x30 && tag <= 0x4f
            ? raw.toString('utf8')
            : raw.toString('hex');
    const list = group.attrs.get(last) ?? [];
    list.push(value);
    group.attrs.set(last, list);
  }
  throw new PrinterError('the printer sent a malformed IPP response');
}

// ---- transport ----

async function openSocket(t: PrinterTarget): Promise<Socket> {
  const host = t.uri.hostname.replace(/^\[|\]$/g, '');
  const port = Number(t.uri.port || 631);
  if (t.uri.protocol === 'ipp:') {
    // Resolve here and refuse anything but loopback (a "localhost" in /etc/hosts could point elsewhere).
    const { address } = isIP(host) ? { address: host } : await lookup(host);
    if (!isLoopbackAddress(address)) throw new PrinterError(`${host} resolves to ${address}, not loopback: refused`);
    return new Promise((res, rej) => {
      const s = netConnect({ host: address, port, timeout: TIMEOUT_MS });
      s.once('connect', () => res(s));
      s.once('timeout', () => s.destroy(new PrinterError(`printer ${host}:${port} did not answer`)));
      s.once('error', (e) =>
        rej(
          e instanceof PrinterError
            ? e
            : new PrinterError(`printer ${host}:${port} not reachable (${(e as NodeJS.ErrnoException).code ?? e.name})`),
        ),
      );
    });
  }
  return new Promise((res, rej) => {
    const s = tlsConnect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, timeout: TIMEOUT_MS });
    s.once('secureConnect', () => {
      const got = s.getPeerCertificate().fingerprint256?.replace(/:/g, '').toUpperCase();
      if (got !== t.fingerprint) {
        s.destroy();
        rej(
          new PrinterError(
            `printer ${host}:${port} presented a certificate whose SHA-256 is ${got ?? 'unknown'}, not the pinned one: refused`,
          ),
        );
        return;
      }
      res(s);
    });
    s.once('timeout', () => s.destroy(new PrinterError(`printer ${host}:${port} did not answer`)));
    s.once('error', (e: NodeJS.ErrnoException) =>
      rej(e instanceof PrinterError ? e : new PrinterError(`printer ${host}:${port} not reachable (${e.code ?? e.name})`)),
    );
  });
}

async function exchange(t: PrinterTarget, head: Buffer, document?: Buffer, onSent?: () => void): Promise<IppResponse> {
  const socket = await openSocket(t);
  return new Promise<IppResponse>((res, rej) => {
    const req = request({
      createConnection: () => socket,
      method: 'POST',
      host: t.uri.host,
      path: t.uri.pathname + t.uri.search,
      headers: { 'Content-Type': 'application/ipp', 'Content-Length': head.length + (document?.length ?? 0) },
      timeout: TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new PrinterError('the printer did not answer in time')));
    req.on('error', (e) =>
      rej(e instanceof PrinterError ? e : new PrinterError(`printer connection failed (${(e as NodeJS.ErrnoException).code ?? e.name})`)),
    );
    req.on('response', (r) => {
      if (r.statusCode !== 200) {
        r.resume();
        rej(new PrinterError(`the printer answered HTTP ${r.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      r.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE) r.destroy(new PrinterError('the printer answered more than 1 MiB'));
        else chunks.push(c);
      });
      r.on('error', (e) => rej(e instanceof PrinterError ? e : new PrinterError('the printer connection broke')));
      r.on('end', () => {
        try {
          res(decodeResponse(Buffer.concat(chunks)));
        } catch (e) {
          rej(e instanceof Error ? e : new PrinterError('the printer sent an unreadable response'));
        }
      });
    });
    req.write(head);
    if (document) {
      onSent?.();
      req.end(document);
    } else req.end();
  }).finally(() => socket.destroy());
}

function baseAttrs(t: PrinterTarget): Buffer[] {
  return [
    attr(TAG.charset, 'attributes-charset', ['utf-8']),
    attr(TAG.naturalLanguage, 'attributes-natural-language', ['en']),
    attr(TAG.uri, 'printer-uri', [t.uri.href]),
    attr(TAG.nameWithoutLanguage, 'requesting-user-name', ['kagi-secure-room']),
  ];
}

const ok = (status: number) => status < 0x0100;

/** Pre-flight: the printer answers, accepts jobs and takes application/pdf. Throws a PrinterError otherwise. */
export async function checkPrinter(t: PrinterTarget): Promise<{ state: number | undefined; makeAndModel: string | undefined }> {
  const head = encodeRequest(OP_GET_PRINTER_ATTRIBUTES, 1, [
    ...baseAttrs(t),
    attr(TAG.keyword, 'requested-attributes', [
      'printer-is-accepting-jobs',
      'document-format-supported',
      'printer-state',
      'printer-make-and-model',
    ]),
  ]);
  const r = await exchange(t, head);
  if (!ok(r.status))
    throw new PrinterError(`the printer refused Get-Printer-Attributes (IPP status 0x${r.status.toString(16).padStart(4, '0')})`);
  const p = r.groups.find((g) => g.tag === TAG.printer)?.attrs;
  if (!p) throw new PrinterError('the printer sent no printer attributes');
  if (p.get('printer-is-accepting-jobs')?.[0] !== true) throw new PrinterError('the printer is not accepting jobs');
  const formats = (p.get('document-format-supported') ?? []).map(String);
  if (!formats.includes('application/pdf'))
    throw new PrinterError(`the printer does not take application/pdf (it takes ${formats.join(', ') || 'nothing it names'})`);
  const state = p.get('printer-state')?.[0];
  if (state === 5) throw new PrinterError('the printer is stopped');
  return { state: typeof state === 'number' ? state : undefined, makeAndModel: p.get('printer-make-and-model')?.[0]?.toString() };
}

/**
 * Print-Job with the PDF from memory. Resolves with the printer's job id. A PrinterError
 * with `mayHavePrinted` means the document reached the printer without a clear refusal.
 */
export async function printPdf(t: PrinterTarget, pdf: Buffer): Promise<number | undefined> {
  const head = encodeRequest(OP_PRINT_JOB, 2, [
    ...baseAttrs(t),
    attr(TAG.nameWithoutLanguage, 'job-name', [JOB_NAME]),
    attr(TAG.mimeMediaType, 'document-format', ['application/pdf']),
  ]);
  let sent = false;
  let r: IppResponse;
  try {
    r = await exchange(t, head, pdf, () => (sent = true));
  } catch (e) {
    const msg = e instanceof Error ? e.message : 'error';
    throw new PrinterError(`printing failed: ${msg}`, sent);
  }
  if (!ok(r.status)) throw new PrinterError(`the printer refused the job (IPP status 0x${r.status.toString(16).padStart(4, '0')})`, false);
  const id = r.groups.find((g) => g.tag === TAG.job)?.attrs.get('job-id')?.[0];
  return typeof id === 'number' ? id : undefined;
}
