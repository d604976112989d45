/**
 * Plumbing of the soak (bench/soak.ts): settings, an HTTP client that talks to loopback
 * addresses only, and the per-request recorder (/proc readings: bench/proc.ts).
 */
import { randomInt } from 'node:crypto';
import { isLoopback } from '../src/config/app-config';
import type { Lane, Plan, TokenModel } from './soak-model';
import type { PlotSample } from './soak-plot';

// ---- settings ------------------------------------------------------------------------

type AnvilMode = 'interval' | 'mixed' | 'automine';

export interface Settings {
  minutes: number;
  concurrency: number;
  maxPending: number;
  intervalSeconds: number;
  seed: number;
  operators: number;
  usersPerOperator: number;
  readShare: number;
  replayShare: number;
  anvil: AnvilMode;
  blockTimeSeconds: number;
  drainTimeoutSeconds: number;
}

export function parseArgs(argv: string[]): Settings {
  const val = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, dflt: number, min: number, max: number) => {
    const v = val(name);
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}]`);
    return n;
  };
  const anvil = (val('anvil') ?? 'interval') as AnvilMode;
  if (!['interval', 'mixed', 'automine'].includes(anvil)) throw new Error('--anvil must be interval, mixed or automine');
  return {
    // Bounded by design: at most 2 hours.
    minutes: num('minutes', 1, 0.05, 120),
    concurrency: Math.floor(num('concurrency', 16, 1, 256)),
    maxPending: Math.floor(num('max-pending', 128, 1, 10_000)),
    intervalSeconds: num('interval', 5, 1, 60),
    seed: Math.floor(num('seed', randomInt(1, 2 ** 31 - 1), 1, 2 ** 31 - 1)),
    operators: Math.floor(num('operators', 3, 1, 10)),
    usersPerOperator: Math.floor(num('users', 6, 2, 50)),
    readShare: num('read-share', 0.35, 0, 0.95),
    replayShare: num('replay-share', 0.03, 0, 0.5),
    anvil,
    blockTimeSeconds: num('block-time', 1, 1, 12),
    drainTimeoutSeconds: num('drain-timeout', 180, 10, 1800),
  };
}

// ---- HTTP over loopback only -----------------------------------------------------------

export function assertLoopback(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (!isLoopback(host)) throw new Error(`refusing non-loopback ${what} ${url}: the soak only talks to this machine`);
}

export type Json = Record<string, unknown>;
export type Answer =
  { ok: true; status: number; body: Json; text: string; headers: Headers; ms: number } | { ok: false; error: string; ms: number };

export class Http {
  constructor(readonly base: string) {
    assertLoopback(base, 'API');
  }

  async call(
    method: string,
    path: string,
    o: { token?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Answer> {
    const t0 = performance.now();
    try {
      const r = await fetch(this.base + path, {
        method,
        headers: {
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.headers ?? {}),
        },
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
      });
      const text = await r.text();
      let body: Json = {};
      try {
        body = text ? (JSON.parse(text) as Json) : {};
      } catch {
        /* not JSON (e.g. /metrics): the text is kept */
      }
      return { ok: true, status: r.status, body, text, headers: r.headers, ms: performance.now() - t0 };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e), ms: performance.now() - t0 };
    }
  }

  /** Setup calls: must answer `status`, else the soak stops. */
  async must(status: number, method: string, path: string, o: Parameters<Http['call']>[2] = {}): Promise<Json & { headers: Headers }> {
    const a = await this.call(method, path, { timeoutMs: 90_000, ...o });
    if (!a.ok) throw new Error(`${method} ${path}: ${a.error}`);
    if (a.status !== status)
      throw new Error(`${method} ${path} answered ${a.status} (wanted ${status}): ${JSON.stringify(a.body).slice(0, 300)}`);
    return Object.assign(a.body, { headers: a.headers });
  }
}

// ---- recording -------------------------------------------------------------------------

export type ErrorKind =
  | 'transport'
  | '5xx'
  | 'unexpected-status'
  | 'accepted-refusal'
  | 'replay-mismatch'
  | 'read-out-of-bounds'
  | 'tx-failed'
  | 'tx-cancelled'
  | 'tx-not-final'
  | 'unresolved-write';

export interface RouteStats {
  count: number;
  outcomes: Map<string, number>;
  ms: number[];
  errors: number;
  expectedRefusals: number;
}

export class Recorder {
  readonly routes = new Map<string, RouteStats>();
  readonly errors = new Map<ErrorKind, number>();
  readonly examples: Array<{ at: number; kind: ErrorKind; route: string; detail: string }> = [];
  readonly expected = new Map<string, number>();
  // Per interval, reset by the sampler.
  iv = Recorder.fresh();
  constructor(private readonly t0: () => number) {}

  static fresh() {
    return {
      requests: 0,
      errors: 0,
      accepted: 0,
      confirmed: 0,
      failed: 0,
      expectedRefusals: 0,
      confirmMs: [] as number[],
      writeMs: [] as number[],
      readMs: [] as number[],
    };
  }

  request(route: string, a: Answer, kind: 'write' | 'read', outcome: 'ok' | 'expected' | ErrorKind, detail = ''): void {
    let s = this.routes.get(route);
    if (!s) this.routes.set(route, (s = { count: 0, outcomes: new Map(), ms: [], errors: 0, expectedRefusals: 0 }));
    s.count++;
    s.ms.push(a.ms);
    const label = a.ok ? `${a.status}${typeof a.body.code === 'string' ? ` ${a.body.code}` : ''}` : 'transport error';
    s.outcomes.set(label, (s.outcomes.get(label) ?? 0) + 1);
    this.iv.requests++;
    (kind === 'write' ? this.iv.writeMs : this.iv.readMs).push(a.ms);
    if (outcome === 'expected') {
      s.expectedRefusals++;
      this.iv.expectedRefusals++;
      this.expected.set(`${route} → ${label}`, (this.expected.get(`${route} → ${label}`) ?? 0) + 1);
    } else if (outcome !== 'ok') {
      s.errors++;
      this.error(outcome, route, detail || (a.ok ? `${label}: ${JSON.stringify(a.body).slice(0, 240)}` : a.error));
    }
  }

  error(kind: ErrorKind, route: string, detail: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
    this.iv.errors++;
    if (this.examples.length < 25) this.examples.push({ at: Math.round(this.t0()), kind, route, detail });
  }
}

// ---- the run ---------------------------------------------------------------------------

export interface Session {
  operatorId: string;
  loginId: string;
  password: string;
  token: string;
  refreshAt: number;
  refreshing?: Promise<void>;
}

export interface Tracked {
  id: string;
  lane: Lane;
  model: TokenModel;
  plan: Plan;
  session: Session;
  key: string;
  acceptedAt: number;
  /** The server's createdAt (ISO), for the tracker's `from` filter. */
  createdAt: string;
  /** Accepted although a refusal was expected: already counted, its end is not counted again. */
  unexpected: boolean;
}

export interface Accepted {
  session: Session;
  path: string;
  body: Record<string, string>;
  key: string;
  id: string;
}

export interface Sample extends PlotSample {
  requestsPerSec: number;
  errors: number;
  errorRate: number;
  expectedRefusals: number;
  failed: number;
  confirmP90Ms: number | null;
  writeP50Ms: number | null;
  readP99Ms: number | null;
  backlog: number;
  inFlight: number;
  hwmMB: number;
  heapTotalMB: number | null;
  metricsRssMB: number | null;
  eventLoopLagP99Ms: number | null;
  apiCpuPercent: number | null;
  postgresCpuPercent: number | null;
  anvilCpuPercent: number | null;
  /** The load generator itself. */
  soakCpuPercent: number | null;
  /** All of the machine (200 = both cores busy), ours and everyone else's. */
  machineCpuPercent: number | null;
  anvilRssMB: number | null;
  load1: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const mb = (bytes: number) => Math.round((bytes / 1e6) * 10) / 10;
export const round = (x: number | null, d = 0) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

export function metric(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m?.[1] ? Number(m[1]) : null;
}
