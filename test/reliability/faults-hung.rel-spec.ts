/**
 * Fault: hung dependencies (issue 21, item 4). The chain node, then PostgreSQL, are
 * SIGSTOPped under load: the kernel still accepts connections and buffers what is sent, but
 * nothing answers and nothing is refused, so only kagi's own client-side deadlines can end a
 * request (a stopped server enforces no timeout of its own). Every answer is timed:
 *
 * - node hung: `/health/ready` 503 naming `chain` (CHAIN_UNAVAILABLE) and every pre-check and
 *   chain read 503 CHAIN_UNAVAILABLE within 3.5 s; `/health/live` and routes that need no chain
 *   within 1 s; an operation request accepted (202, a token creation reads no chain first) or
 *   refused (503) within 3.5 s, the workload's own requests included; after SIGCONT the node
 *   answers everything it was sent meanwhile, the pipeline goes on, and everything accepted
 *   before and during the hang is on chain exactly once (independent viem reads).
 * - PostgreSQL hung (postmaster and every backend): a route that reads the database answers
 *   503 DATABASE_UNAVAILABLE (with Retry-After) within 10 s, `/health/live` within 1 s,
 *   `/health/ready` names `database`; after SIGCONT the service recovers (readiness, the
 *   workload, a `Prefer: wait` request woken through LISTEN/NOTIFY, a job run by the job runner:
 *   a lost wallet's freeze) and nothing accepted is lost or applied twice.
 *
 * The measured times are printed (`[faults] hung …`) for the README's reliability summary.
 */
import { createPublicClient, getAddress, http as viemHttp, type Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import type { ErrorCode } from '../../src/common/error-codes';
import { freePort } from '../../dev/processes';
import { pdfText, printedPrivateKey } from '../support/pdf';
import { ApiProcess, build } from './support/api-process';
import { Http, pollUntil, Recorder, sleep, type Answer, type CallOptions } from './support/client';
import { createFixture, type Fixture } from './support/fixture';
import { baseSeed, profile } from './support/profile';
import { logFindings, summary, timeline } from './support/report';
import { apiEnv, startStack, type Stack } from './support/stack';
import { listTransactions, readiness, verify } from './support/verify';
import { Load, type Accepted } from './support/workload';

const root = process.cwd();
const prof = profile();
const seed = baseSeed();

/** The issue's bounds (ms). */
const LIVE_MS = 1_000;
const NO_CHAIN_MS = 1_000;
const CHAIN_MS = 3_500;
const DATABASE_MS = 10_000;

interface Timed {
  window: string | undefined;
  method: string;
  path: string;
  status: number;
  code: string | undefined;
  ms: number;
}

/** The suite's client, also keeping every answer's time and the fault window it started in. */
class TimedHttp extends Http {
  readonly timed: Timed[] = [];
  window: string | undefined;

  override async call(method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
    const window = this.window;
    const a = await super.call(method, path, opts);
    this.timed.push({ window, method, path, status: a.status, code: a.body?.code as string | undefined, ms: a.ms });
    return a;
  }
}

interface Probe {
  what: string;
  call: () => Promise<Answer>;
  /** Wanted status, and for errors the contract code; for readiness the part that must be down, and those that must not. */
  status: number;
  code?: ErrorCode;
  down?: string;
  up?: string[];
  withinMs: number;
}

const ERROR_CODE_OF: Record<string, ErrorCode> = { chain: 'CHAIN_UNAVAILABLE', database: 'DATABASE_UNAVAILABLE' };

interface Measured {
  what: string;
  status: number;
  code: string | undefined;
  ms: number;
  withinMs: number;
}

/** Sends every probe at once (a burst, as clients would), times each, and returns findings. */
async function runProbes(label: string, probes: Probe[], measured: Measured[]): Promise<string[]> {
  const answers = await Promise.all(probes.map((p) => p.call()));
  const out: string[] = [];
  for (const [i, p] of probes.entries()) {
    const a = answers[i]!;
    const code = (a.body?.code as string | undefined) ?? undefined;
    measured.push({ what: `${label}: ${p.what}`, status: a.status, code, ms: a.ms, withinMs: p.withinMs });
    const want = `${p.status}${p.code ? ` ${p.code}` : ''}${p.down ? ` naming ${p.down}` : ''}`;
    const got = `${a.status} ${a.error ?? a.text.slice(0, 200)}`;
    if (a.status !== p.status || (p.code && code !== p.code))
      out.push(`${label}: ${p.what} answered ${got} after ${a.ms} ms, want ${want}`);
    if (p.down) {
      const part = (a.body?.error as Record<string, { status?: string; code?: string }> | undefined)?.[p.down];
      if (part?.status !== 'down') out.push(`${label}: ${p.what} does not name ${p.down} down: ${got}`);
      else if (part.code !== ERROR_CODE_OF[p.down])
        out.push(`${label}: ${p.what}: ${p.down} down without code ${ERROR_CODE_OF[p.down]}: ${got}`);
      const wrong = Object.keys((a.body?.error as Record<string, unknown> | undefined) ?? {}).filter((k) => p.up?.includes(k));
      if (wrong.length) out.push(`${label}: ${p.what} names ${wrong.join(', ')} down too`);
    }
    if (a.status === 503 && !p.what.startsWith('GET /health') && a.headers.get('retry-after') === null && p.code === 'DATABASE_UNAVAILABLE')
      out.push(`${label}: ${p.what}: 503 without Retry-After`);
    if (a.ms > p.withinMs) out.push(`${label}: ${p.what} took ${a.ms} ms, bound ${p.withinMs} ms`);
  }
  return out;
}

function printMeasured(measured: Measured[]): void {
  for (const m of measured)
    console.log(`[faults] hung ${m.what}: ${m.status}${m.code ? ` ${m.code}` : ''} in ${m.ms} ms (bound ${m.withinMs} ms)`);
}

/** Every answer to a request sent while `window` lasted, checked against the bound of its route. */
function windowFindings(timed: Timed[], window: string, bound: (t: Timed) => number): { findings: string[]; line: string } {
  const mine = timed.filter((t) => t.window === window);
  const findings = mine.filter((t) => t.ms > bound(t)).map((t) => `${window}: ${t.method} ${t.path} took ${t.ms} ms, bound ${bound(t)} ms`);
  const ops = mine.filter((t) => t.method === 'POST' && /^\/v1\/tokens\/[^/]+\/[a-z-]+$/.test(t.path));
  const max = (xs: Timed[]) => xs.reduce((m, t) => Math.max(m, t.ms), 0);
  const by = (xs: Timed[]) =>
    [
      ...xs.reduce(
        (m, t) => m.set(`${t.status}${t.code ? ` ${t.code}` : ''}`, (m.get(`${t.status}${t.code ? ` ${t.code}` : ''}`) ?? 0) + 1),
        new Map<string, number>(),
      ),
    ]
      .map(([k, n]) => `${k}×${n}`)
      .join(' ');
  const line = `${window}: ${mine.length} answers (max ${max(mine)} ms), of which ${ops.length} operation requests [${by(ops)}] max ${max(ops)} ms`;
  return { findings: findings.slice(0, 20), line };
}

/** The API's warnings since line `from`, grouped by their text with ids and numbers masked (what kagi said about the hang). */
function warnings(api: ApiProcess, from: number): string {
  const counts = new Map<string, number>();
  for (const l of api.lines.slice(from)) {
    if (typeof l.json?.level !== 'number' || l.json.level < 40) continue;
    const raw = l.json.msg ?? l.json.err;
    const msg = (typeof raw === 'string' ? raw : JSON.stringify(raw ?? ''))
      .replace(/0x[0-9a-f]+|[0-9a-f]{8}-[0-9a-f-]{27}|\d+/gi, '#')
      .slice(0, 140);
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([m, n]) => `${n}× ${m}`)
    .join(' | ');
}

/** Time until every transaction of the token is final (nothing wedged), polled every 250 ms. */
async function drained(http: Http, fx: Fixture): Promise<number> {
  const final = new Set(['confirmed', 'failed', 'cancelled']);
  const r = await pollUntil(
    () => listTransactions(http, fx.operator.token, `tokenId=${fx.token.id}`),
    (txs) => txs.every((x) => final.has(x.status)),
    120_000,
  );
  return r.ms;
}

describe('fault: chain node and PostgreSQL hung (SIGSTOP) under load', () => {
  let stack: Stack;
  let api: ApiProcess;
  /** The 503 codes the current fault may produce (switched between the two faults). */
  const allowed = new Set<ErrorCode>();
  const rec = new Recorder(allowed);
  let http: TimedHttp;
  let fx: Fixture;
  const startedAt = Date.now();
  const measured: Measured[] = [];
  /** Everything accepted in this file (both loads and the test's own operations), for the final verify. */
  const accepted: Accepted[] = [];
  let chain: ReturnType<typeof createPublicClient>;

  beforeAll(async () => {
    console.log(`[faults] hung: profile=${prof.name} seed=${seed} (replay with KAGI_RELIABILITY_SEED=${seed})`);
    build(root);
    stack = await startStack(root);
    api = new ApiProcess(root, apiEnv(stack, await freePort()));
    await api.start();
    http = new TimedHttp(api.url, rec);
    fx = await createFixture(http, stack, { tag: `hung${seed}` });
    chain = createPublicClient({ transport: viemHttp(stack.chain.url, { timeout: 5_000, retryCount: 0 }) });
  });
  afterAll(async () => {
    await api?.destroy();
    await stack?.destroy();
  });

  it('a hung chain node: bounded answers, nothing wedged, everything exactly once after SIGCONT', async () => {
    const findings: string[] = [];
    const step = timeline('hung-chain');
    const t = fx.token.id;
    const op = fx.operator.token;
    const holder = fx.holders[0]!.id;
    allowed.clear();
    allowed.add('CHAIN_UNAVAILABLE');
    const load = new Load(http, fx, seed, 'hungchain', prof.concurrency, prof.opsPerSecond);
    rec.phase = 'steady';
    load.start();
    await sleep(prof.baselineMs);
    expect(await load.acceptedIn('steady', 1, 30_000), 'load accepted before the fault').toBe(true);

    // --- the node stops answering ------------------------------------------------------------
    const logFrom = api.lines.length;
    rec.phase = 'outage';
    http.window = 'chain-hung';
    const stopped = await stack.chain.hang();
    const t0 = Date.now();
    step(`Anvil SIGSTOPped (${stopped.map((p) => `${p.cmd}:${p.pid}`).join(', ')})`);
    let createdToken: string | undefined;
    const probes = (round: number): Probe[] => [
      { what: 'GET /health/live', call: () => http.call('GET', '/health/live'), status: 200, withinMs: LIVE_MS },
      {
        what: 'GET /health/ready',
        call: () => http.call('GET', '/health/ready'),
        status: 503,
        down: 'chain',
        up: ['database', 'kms'],
        withinMs: CHAIN_MS,
      },
      {
        what: 'GET /v1/transactions (no chain)',
        call: () => http.call('GET', `/v1/transactions?tokenId=${t}&limit=5`, { token: op }),
        status: 200,
        withinMs: NO_CHAIN_MS,
      },
      {
        what: 'GET /v1/auth/me (no chain)',
        call: () => http.call('GET', '/v1/auth/me', { token: op }),
        status: 200,
        withinMs: NO_CHAIN_MS,
      },
      {
        what: 'POST issue (pre-check)',
        call: () =>
          http.call('POST', `/v1/tokens/${t}/issue`, {
            token: op,
            body: { userId: holder, amount: '1' },
            headers: { 'idempotency-key': `hung-chain-issue-${round}-${seed}` },
          }),
        status: 503,
        code: 'CHAIN_UNAVAILABLE',
        withinMs: CHAIN_MS,
      },
      {
        what: 'POST redeem (pre-check at a block)',
        call: () =>
          http.call('POST', `/v1/tokens/${t}/redeem`, {
            token: op,
            body: { userId: holder, amount: '1' },
            headers: { 'idempotency-key': `hung-chain-redeem-${round}-${seed}` },
          }),
        status: 503,
        code: 'CHAIN_UNAVAILABLE',
        withinMs: CHAIN_MS,
      },
      {
        what: 'GET token (chain read)',
        call: () => http.call('GET', `/v1/tokens/${t}`, { token: op }),
        status: 503,
        code: 'CHAIN_UNAVAILABLE',
        withinMs: CHAIN_MS,
      },
      {
        what: 'GET balance (chain read)',
        call: () => http.call('GET', `/v1/tokens/${t}/balances/${holder}`, { token: op }),
        status: 503,
        code: 'CHAIN_UNAVAILABLE',
        withinMs: CHAIN_MS,
      },
      ...(round === 1
        ? [
            {
              what: 'POST /v1/tokens (accepted: no chain read first)',
              call: async () => {
                const a = await http.call('POST', '/v1/tokens', {
                  token: op,
                  body: { name: 'Hung Node Bond', symbol: 'HNB', decimals: 0 },
                  headers: { 'idempotency-key': `hung-chain-deploy-${seed}` },
                });
                createdToken = a.body?.id as string | undefined;
                return a;
              },
              status: 202,
              withinMs: CHAIN_MS,
            },
          ]
        : []),
    ];
    findings.push(...(await runProbes('node hung, at once', probes(1), measured)));
    step('first burst answered');
    // Again once requests have piled up behind the stopped node (the workload keeps retrying).
    await sleep(Math.max(0, prof.hungMs / 2 - (Date.now() - t0)));
    findings.push(...(await runProbes(`node hung, after ${((Date.now() - t0) / 1000).toFixed(0)} s`, probes(2), measured)));
    step('second burst answered');
    await sleep(Math.max(0, prof.hungMs - (Date.now() - t0)));

    // --- SIGCONT: the node answers everything it was sent meanwhile ----------------------------
    rec.phase = 'recovery';
    http.window = undefined;
    await stack.chain.resume();
    const hungFor = Date.now() - t0;
    step(`Anvil SIGCONT after ${hungFor} ms`);
    const up = await pollUntil(
      () => readiness(http),
      (r) => r.status === 200,
      30_000,
      100,
    );
    if (!up.ok) findings.push(`/health/ready after SIGCONT: ${JSON.stringify(up.value)}`);
    step(`readiness 200 after ${up.ms} ms`);
    if (!(await load.acceptedIn('recovery', 1, 30_000))) findings.push('nothing accepted after the node answered again');
    rec.phase = 'steady';
    await sleep(prof.recoveryMs);
    await load.stop();
    expect(load.errors.map((e) => e.message)).toEqual([]);
    const drainMs = await drained(http, fx);
    step(`everything accepted final ${drainMs} ms after the load stopped`);
    if (createdToken) {
      const active = await pollUntil(
        () => http.call('GET', `/v1/tokens/${createdToken}`, { token: op }),
        (r) => r.body?.status === 'active',
        60_000,
      );
      if (!active.ok) findings.push(`token accepted while the node hung not deployed afterwards: ${active.value.text.slice(0, 300)}`);
    } else findings.push('no token creation was accepted while the node hung');
    accepted.push(...load.accepted);
    const v = await verify(http, stack, fx, accepted, { finalWithinMs: 180_000 });
    step('verified');
    const w = windowFindings(http.timed, 'chain-hung', (x) =>
      x.path === '/health/live' ? LIVE_MS : x.path.startsWith('/v1/transactions') || x.path === '/v1/auth/me' ? NO_CHAIN_MS : CHAIN_MS,
    );
    findings.push(...w.findings, ...v.findings, ...logFindings(api, rec, fx.secrets), ...rec.violations);
    printMeasured(measured.splice(0));
    console.log(`[faults] hung ${w.line}`);
    console.log(
      `[faults] hung node: SIGSTOP ${hungFor} ms; readiness 200 ${up.ms} ms after SIGCONT; all final ${drainMs} ms after the load stopped`,
    );
    console.log(`[faults] hung node: API warnings: ${warnings(api, logFrom)}`);
    summary('hung-chain', {
      profile: prof.name,
      seed,
      faults: 1,
      survived: v.findings.length === 0 ? 1 : 0,
      rec,
      accepted: load.accepted.length,
      extra: `hungMs=${hungFor} readyAfterContMs=${up.ms} confirmed=${v.confirmed} failed=${v.failed}`,
      startedAt,
    });
    expect(findings).toEqual([]);
  });

  it('a hung PostgreSQL: 503 DATABASE_UNAVAILABLE within 10 s, /health/live answers, recovery after SIGCONT with nothing lost', async () => {
    const findings: string[] = [];
    const step = timeline('hung-postgres');
    const t = fx.token.id;
    const op = fx.operator.token;
    const holder = fx.holders[1]!.id;
    allowed.clear();
    allowed.add('DATABASE_UNAVAILABLE');
    const load = new Load(http, fx, seed, 'hungpg', prof.concurrency, prof.opsPerSecond);
    rec.phase = 'steady';
    load.start();
    await sleep(prof.baselineMs);
    expect(await load.acceptedIn('steady', 1, 30_000), 'load accepted before the fault').toBe(true);

    // --- PostgreSQL stops answering --------------------------------------------------------------
    const logFrom = api.lines.length;
    rec.phase = 'outage';
    http.window = 'postgres-hung';
    const stopped = await stack.pg.hang();
    const t0 = Date.now();
    step(`PostgreSQL SIGSTOPped: ${stopped.length} processes (postmaster ${stopped[0]?.pid})`);
    const db = (what: string, call: () => Promise<Answer>): Probe => ({
      what,
      call,
      status: 503,
      code: 'DATABASE_UNAVAILABLE',
      withinMs: DATABASE_MS,
    });
    const probes = (round: number): Probe[] => [
      { what: 'GET /health/live', call: () => http.call('GET', '/health/live'), status: 200, withinMs: LIVE_MS },
      {
        what: 'GET /health/ready',
        call: () => http.call('GET', '/health/ready'),
        status: 503,
        down: 'database',
        up: ['chain', 'kms'],
        withinMs: CHAIN_MS,
      },
      db('GET /v1/transactions', () => http.call('GET', `/v1/transactions?tokenId=${t}&limit=5`, { token: op })),
      db('GET /v1/auth/me', () => http.call('GET', '/v1/auth/me', { token: op })),
      db('GET /v1/tokens/{id}', () => http.call('GET', `/v1/tokens/${t}`, { token: op })),
      db('POST issue', () =>
        http.call('POST', `/v1/tokens/${t}/issue`, {
          token: op,
          body: { userId: holder, amount: '1' },
          headers: { 'idempotency-key': `hung-pg-issue-${round}-${seed}` },
        }),
      ),
    ];
    findings.push(...(await runProbes('database hung, at once', probes(1), measured)));
    step('first burst answered');
    findings.push(...(await runProbes(`database hung, after ${((Date.now() - t0) / 1000).toFixed(0)} s`, probes(2), measured)));
    step('second burst answered');
    await sleep(Math.max(0, prof.hungMs - (Date.now() - t0)));

    // --- SIGCONT ------------------------------------------------------------------------------------
    rec.phase = 'recovery';
    http.window = undefined;
    await stack.pg.resume();
    const hungFor = Date.now() - t0;
    step(`PostgreSQL SIGCONT after ${hungFor} ms`);
    const up = await pollUntil(
      () => readiness(http),
      (r) => r.status === 200,
      30_000,
      100,
    );
    if (!up.ok) findings.push(`/health/ready after SIGCONT: ${JSON.stringify(up.value)}`);
    step(`readiness 200 after ${up.ms} ms`);
    if (!(await load.acceptedIn('recovery', 1, 30_000))) findings.push('nothing accepted after PostgreSQL answered again');

    // The pipeline and the LISTEN/NOTIFY wake-up work again: a `Prefer: wait` operation is final in the same request.
    const body = { userId: holder, amount: '3' };
    const key = `hung-pg-wait-${seed}`;
    const waited = await http.call('POST', `/v1/tokens/${t}/issue`, {
      token: op,
      body,
      headers: { 'idempotency-key': key, prefer: 'wait=30' },
    });
    if (waited.status !== 200 || waited.body?.status !== 'confirmed')
      findings.push(`Prefer: wait after recovery: ${waited.status} ${waited.text.slice(0, 300)}`);
    else
      accepted.push({
        op: { key, kind: 'issue', body },
        txId: waited.body.id as string,
        status: 200,
        phase: 'recovery',
        acceptedAt: Date.now(),
        attempts: 1,
      });
    step(`Prefer: wait issue confirmed in ${waited.ms} ms`);

    // The job runner works again: a wallet reported lost is frozen on chain by its wallet.freeze job.
    const lost = await http.call('POST', '/v1/users', {
      token: op,
      body: { name: '凍結 花子', email: `hung.${seed}@example.jp`, externalRef: `hung-lost-${seed}` },
    });
    expect(lost.status, lost.text).toBe(201);
    const walletOf = async (query: string, b: Record<string, unknown>): Promise<Address> => {
      const r = await http.call('POST', `/v1/users/${lost.body.id}/wallet${query}`, { token: fx.admin, body: b });
      expect(r.status, r.text).toBe(201);
      fx.secrets.push(Buffer.from(printedPrivateKey(await pdfText(new Uint8Array(r.body as Buffer))).slice(2), 'hex'));
      return getAddress(r.headers.get('x-wallet-address')!);
    };
    const oldWallet = await walletOf('', {});
    await walletOf('?reissue=true', { reason: 'paper wallet lost after a database hang' });
    const frozen = await pollUntil(
      () => chain.readContract({ address: fx.token.address, abi: securityTokenAbi, functionName: 'isFrozen', args: [oldWallet] }),
      (f) => f === true,
      60_000,
    );
    if (!frozen.ok) findings.push(`the lost wallet ${oldWallet} is not frozen on chain after the database hang (job runner?)`);
    step(`lost wallet frozen on chain by its job in ${frozen.ms} ms`);
    const freezes = (await listTransactions(http, op, `tokenId=${t}&kind=freeze`)).filter(
      (x) => typeof x.request.address === 'string' && x.request.address.toLowerCase() === oldWallet.toLowerCase(),
    );
    if (freezes.length !== 1) findings.push(`the lost wallet's freezes: ${freezes.length} (want one)`);
    fx.setupTxIds.push(...freezes.map((x) => x.id));

    rec.phase = 'steady';
    await sleep(prof.recoveryMs);
    await load.stop();
    expect(load.errors.map((e) => e.message)).toEqual([]);
    const drainMs = await drained(http, fx);
    step(`everything accepted final ${drainMs} ms after the load stopped`);
    accepted.push(...load.accepted);
    const v = await verify(http, stack, fx, accepted, { finalWithinMs: 180_000 });
    step('verified');
    const w = windowFindings(http.timed, 'postgres-hung', (x) => (x.path === '/health/live' ? LIVE_MS : DATABASE_MS));
    findings.push(...w.findings, ...v.findings, ...logFindings(api, rec, fx.secrets), ...rec.violations);
    printMeasured(measured.splice(0));
    console.log(`[faults] hung ${w.line}`);
    console.log(
      `[faults] hung database: SIGSTOP ${hungFor} ms (${stopped.length} processes); readiness 200 ${up.ms} ms after SIGCONT; Prefer: wait ${waited.ms} ms; job-run freeze on chain ${frozen.ms} ms; all final ${drainMs} ms after the load stopped`,
    );
    console.log(`[faults] hung database: API warnings: ${warnings(api, logFrom)}`);
    summary('hung-postgres', {
      profile: prof.name,
      seed,
      faults: 1,
      survived: v.findings.length === 0 ? 1 : 0,
      rec,
      accepted: load.accepted.length,
      extra: `hungMs=${hungFor} readyAfterContMs=${up.ms} confirmed=${v.confirmed} failed=${v.failed}`,
      startedAt,
    });
    expect(findings).toEqual([]);
  });
});
