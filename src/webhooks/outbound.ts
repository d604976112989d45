/**
 * Outbound safety of webhook delivery (API contract, "Webhooks"): the only place kagi sends an
 * HTTP request to an address a customer chose.
 *
 * - URL: http(s) only (https on port 443 only in production), no userinfo; an IP literal that
 *   is not public is refused at registration already (`urlProblem`).
 * - Every attempt resolves the host once, checks the address, and connects to exactly that
 *   address (a `lookup` that answers the checked address: no second resolution a DNS
 *   rebinding could change). Refused unless WEBHOOK_ALLOW_PRIVATE: anything ipaddr.js does not
 *   class as public unicast — loopback, RFC 1918, fc00::/7, link-local (169.254/16 with the
 *   metadata address, fe80::/10), CGNAT 100.64/10, 0.0.0.0/8, multicast, broadcast, reserved,
 *   and IPv4-mapped, NAT64, 6to4 and Teredo forms (their embedded IPv4 is judged instead).
 * - node:http(s) directly: no redirect is followed (a 3xx is just a non-2xx answer), no proxy
 *   is read from the environment, no connection reuse (agent: false).
 * - One deadline (10 s) for the whole exchange — resolution, connection, TLS, request and
 *   answer — and at most 1 kB of the answer kept; the rest is not read.
 *
 * Hand-written rather than request-filtering-agent: that agent checks the address in a
 * `lookup` hook but leaves the deadline, body cap and redirect policy to the client, and judges
 * IPv4-mapped forms by the IPv6 range; ipaddr.js's `process()` + `range()` is the check both use.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

const DELIVERY_DEADLINE_MS = 10_000;
export const ANSWER_KEEP_BYTES = 1024;

export interface UrlPolicy {
  production: boolean;
  allowPrivate: boolean;
}

/** Ranges ipaddr.js names for an embedded IPv4 address inside IPv6 (judged by that IPv4). */
const EMBEDDING = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052', '6to4', 'teredo']);

/** Whether `address` (IPv4 or IPv6 text) is a public unicast address a webhook may reach. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    const range = v6.range();
    if (v6.isIPv4MappedAddress()) return isPublicAddress(v6.toIPv4Address().toString());
    if (EMBEDDING.has(range)) return isPublicAddress(embeddedIPv4(v6, range));
    return range === 'unicast';
  }
  return parsed.range() === 'unicast';
}

/** The IPv4 address an IPv6 translation form carries (NAT64/6145: last 32 bits; 6to4: bits 16–48; Teredo: client, inverted). */
function embeddedIPv4(v6: ipaddr.IPv6, range: string): string {
  const p = v6.parts;
  const quad = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  if (range === '6to4') return quad(p[1]!, p[2]!);
  if (range === 'teredo') return quad(p[6]! ^ 0xffff, p[7]! ^ 0xffff);
  return quad(p[6]!, p[7]!);
}

function hostOf(u: URL): string {
  return u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
}

/** Why `raw` cannot be a webhook URL, or null. Only what is visible without resolving the name. */
export function urlProblem(raw: string, policy: UrlPolicy): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'url must be an absolute http(s) URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'url must use https';
  if (policy.production && u.protocol !== 'https:') return 'url must use https';
  if (policy.production && u.port !== '' && u.port !== '443') return 'url must use port 443';
  if (u.username || u.password) return 'url must not contain a user name or password';
  if (u.hash) return 'url must not contain a fragment';
  const host = hostOf(u);
  if (!policy.allowPrivate && ipaddr.isValid(host) && !isPublicAddress(host))
    return 'url must not point to a loopback, private, link-local or otherwise non-public address';
  return null;
}

export interface Attempt {
  url: string;
  headers: Record<string, string>;
  body: string;
  policy: UrlPolicy;
  /** Aborts the attempt early (shutdown). */
  signal?: AbortSignal;
  /** For tests: the resolver (default: the system's, one answer). */
  resolve?: (host: string) => Promise<{ address: string; family: number }>;
}

export type AttemptResult =
  { ok: true; status: number; answer: string } | { ok: false; status: number | null; answer: string; error: string };

/** One delivery attempt under the policy; never throws. */
export async function deliver(a: Attempt): Promise<AttemptResult> {
  // Our own timer, not AbortSignal.timeout(): inside AbortSignal.any() Node holds a timeout signal
  // only weakly, and a garbage collection during a slow exchange can take it — the deadline then
  // never fires (nodejs/node#57736; seen here as a delivery outliving 15 s under load).
  const timer = new AbortController();
  const clock = setTimeout(() => timer.abort(new DOMException('the delivery deadline passed', 'TimeoutError')), DELIVERY_DEADLINE_MS);
  const deadline = a.signal ? AbortSignal.any([timer.signal, a.signal]) : timer.signal;
  try {
    const problem = urlProblem(a.url, a.policy);
    if (problem) return { ok: false, status: null, answer: '', error: problem };
    const u = new URL(a.url);
    const host = hostOf(u);
    const resolved = ipaddr.isValid(host)
      ? { address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 }
      : await raceAbort((a.resolve ?? systemResolve)(host), deadline);
    if (!a.policy.allowPrivate && !isPublicAddress(resolved.address))
      return { ok: false, status: null, answer: '', error: 'refused: the host resolves to a non-public address' };
    const { status, answer } = await post(u, resolved, a.headers, a.body, deadline);
    if (status >= 200 && status < 300) return { ok: true, status, answer };
    return { ok: false, status, answer, error: `answered ${status}` };
  } catch (e) {
    const error = deadline.aborted
      ? 'no complete answer within 10 s'
      : e instanceof Error
        ? e.message.split('\n')[0]!.slice(0, 200)
        : 'failed';
    return { ok: false, status: null, answer: '', error };
  } finally {
    clearTimeout(clock);
  }
}

async function systemResolve(host: string): Promise<{ address: string; family: number }> {
  return dnsLookup(host, { verbatim: true });
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function post(
  u: URL,
  resolved: { address: string; family: number },
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<{ status: number; answer: string }> {
  // Connect to exactly the checked address; TLS still verifies the certificate for the URL's host name (SNI).
  const lookup: LookupFunction = (_host, opts, cb) => {
    if ((opts as { all?: boolean }).all)
      (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [resolved]);
    else cb(null, resolved.address, resolved.family);
  };
  const bytes = Buffer.from(body, 'utf8');
  const options = {
    method: 'POST',
    agent: false as const,
    lookup,
    signal,
    headers: { ...headers, 'content-type': 'application/json', 'content-length': String(bytes.length), 'user-agent': 'kagi-webhooks/1' },
  };
  return new Promise((resolve, reject) => {
    const onAnswer = (res: IncomingMessage) => {
      const kept: Buffer[] = [];
      let size = 0;
      const done = () => resolve({ status: res.statusCode ?? 0, answer: Buffer.concat(kept).toString('utf8') });
      res.on('data', (chunk: Buffer) => {
        if (size < ANSWER_KEEP_BYTES) kept.push(chunk.subarray(0, ANSWER_KEEP_BYTES - size));
        size += chunk.length;
        // Enough kept: the rest of the answer is neither read nor stored.
        if (size >= ANSWER_KEEP_BYTES) {
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', reject);
    };
    const req = u.protocol === 'https:' ? httpsRequest(u, options, onAnswer) : httpRequest(u, options, onAnswer);
    req.on('error', reject);
    req.end(bytes);
  });
}
