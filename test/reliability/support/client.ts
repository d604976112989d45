/**
 * The HTTP client of the reliability suite. Every answer passes through one recorder
 * that checks it against the contract as it arrives: an error is problem+json with a
 * contract code whose status matches; a 5xx is only one of the 503s the current fault
 * allows, and only while that fault (or its recovery) lasts; nothing hangs (a bounded
 * timeout); no answer carries internals (stack, SQL, driver errors). Violations are
 * collected with the request that caused them and asserted empty by each file.
 */
import { ERROR_CODES, type ErrorCode } from '../../../src/common/error-codes';

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
  ms: number;
  /** Set when no HTTP answer came (connection refused or reset, timeout). */
  error?: string;
}

/** The parts of a fault as the recorder sees them. */
export type Phase = 'setup' | 'steady' | 'outage' | 'recovery' | 'api-down' | 'verify';

const INTERNALS = /\bat [\w.<>]+ \(|\.js:\d+|\.ts:\d+|QueryFailedError|SELECT |INSERT |UPDATE |ECONNREFUSED|ECONNRESET|stack|Error: /;

export class Recorder {
  phase: Phase = 'setup';
  requests = 0;
  networkErrors = 0;
  readonly byStatus = new Map<number, number>();
  readonly byCode = new Map<string, number>();
  /** 503 codes seen, by phase. */
  readonly unavailable = new Map<string, number>();
  readonly violations: string[] = [];
  /** Error bodies kept for the secret scan. */
  readonly errorTexts: string[] = [];

  /** `allowed503`: the 503 codes this file's fault may produce (outage and recovery phases only). */
  constructor(private readonly allowed503: ReadonlySet<ErrorCode>) {}

  get fiveXX(): number {
    let n = 0;
    for (const [s, c] of this.byStatus) if (s >= 500) n += c;
    return n;
  }

  note(method: string, path: string, a: Answer): void {
    this.requests++;
    const what = `${this.phase}: ${method} ${path}`;
    if (a.error !== undefined) {
      this.networkErrors++;
      // Only a dead API may fail to answer; a live one answers every request, whatever is down behind it.
      if (this.phase !== 'api-down') this.violations.push(`${what}: no answer (${a.error}) after ${a.ms} ms`);
      return;
    }
    this.byStatus.set(a.status, (this.byStatus.get(a.status) ?? 0) + 1);
    if (path.startsWith('/health/')) {
      if (![200, 503].includes(a.status) || typeof a.body?.status !== 'string')
        this.violations.push(`${what}: readiness answered ${a.status} ${a.text.slice(0, 200)}`);
      return;
    }
    if (a.status < 400) return;
    this.errorTexts.push(a.text);
    const ct = a.headers.get('content-type') ?? '';
    const code = a.body?.code as string | undefined;
    if (!ct.startsWith('application/problem+json'))
      this.violations.push(`${what}: ${a.status} is not problem+json (${ct}): ${a.text.slice(0, 200)}`);
    if (!code || !(code in ERROR_CODES)) {
      this.violations.push(`${what}: ${a.status} without a contract code: ${a.text.slice(0, 200)}`);
      return;
    }
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    if (ERROR_CODES[code as ErrorCode].status !== a.status || a.body?.status !== a.status)
      this.violations.push(`${what}: code ${code} answered with status ${a.status}`);
    for (const f of ['type', 'title', 'detail'] as const)
      if (typeof a.body?.[f] !== 'string') this.violations.push(`${what}: problem without ${f}`);
    if (INTERNALS.test(String(a.body?.detail ?? '')) || INTERNALS.test(String(a.body?.title ?? '')))
      this.violations.push(`${what}: internals in the problem: ${a.text.slice(0, 200)}`);
    if (a.status >= 500) {
      const k = `${this.phase}:${code}`;
      this.unavailable.set(k, (this.unavailable.get(k) ?? 0) + 1);
      const faultPhase = this.phase === 'outage' || this.phase === 'recovery';
      if (a.status !== 503 || !this.allowed503.has(code as ErrorCode) || !faultPhase)
        this.violations.push(`${what}: ${a.status} ${code}: ${a.text.slice(0, 200)}`);
    }
  }

  summary(): string {
    const statuses = [...this.byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    const u = [...this.unavailable.entries()].map(([k, n]) => `${k}×${n}`).join(' ');
    return `requests=${this.requests} 5xx=${this.fiveXX} noAnswer=${this.networkErrors} statuses[${statuses}]${u ? ` 503s[${u}]` : ''}`;
  }
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** A live API must answer within this (a request that hangs is a violation). */
  timeoutMs?: number;
}

export class Http {
  constructor(
    readonly base: string,
    readonly rec: Recorder,
  ) {}

  async call(method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const t0 = Date.now();
    let a: Answer;
    try {
      const res = await fetch(this.base + path, { method, headers, body: payload, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
      const buf = Buffer.from(await res.arrayBuffer());
      const ct = res.headers.get('content-type') ?? '';
      const text = ct.includes('json') || ct.startsWith('text/') ? buf.toString('utf8') : '';
      let body: any = undefined;
      if (ct.includes('json') && text) body = JSON.parse(text);
      a = { status: res.status, headers: res.headers, body, text, ms: Date.now() - t0 };
      if (!ct.includes('json') && !ct.startsWith('text/')) a.body = buf;
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      a = {
        status: 0,
        headers: new Headers(),
        body: undefined,
        text: '',
        ms: Date.now() - t0,
        error: cause ?? (e instanceof Error ? e.name : String(e)),
      };
    }
    this.rec.note(method, path, a);
    return a;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until `done` holds or the deadline passes; returns the last value and whether it held. */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs: number,
  intervalMs = 250,
): Promise<{ ok: boolean; value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value)) return { ok: true, value, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) return { ok: false, value, ms: Date.now() - t0 };
    await sleep(intervalMs);
  }
}

/** A finding unless `a` answered `status` (and, for errors, `code`). */
export function expectAnswer(a: Answer, status: number, code: string | undefined, what: string): string[] {
  if (a.status === status && (code === undefined || a.body?.code === code)) return [];
  return [`${what}: answered ${a.status} ${a.error ?? a.text.slice(0, 200)} after ${a.ms} ms, want ${status}${code ? ` ${code}` : ''}`];
}
