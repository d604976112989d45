/**
 * Fault: PostgreSQL restarted under load (issue 9, item 1): the server is stopped (fast
 * shutdown: every connection cut) and started again on the same data dir and port while
 * the API runs. During the outage every request is answered, promptly, with problem+json
 * and a 503 (the database is a dependency that is down: the unavailable family, not an
 * internal error), /health/ready is 503 naming `database`; afterwards readiness is 200,
 * the load goes on, and everything accepted is on chain exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { ApiProcess, build } from './support/api-process';
import { expectAnswer, Http, pollUntil, Recorder, sleep, type Answer } from './support/client';
import { createFixture, type Fixture } from './support/fixture';
import { baseSeed, profile } from './support/profile';
import { logFindings, summary, timeline } from './support/report';
import { apiEnv, startStack, type Stack } from './support/stack';
import { readiness, verify } from './support/verify';
import { Load } from './support/workload';

const root = process.cwd();
const prof = profile();
const seed = baseSeed();
/** How long a request may take while the database is down (the pool's connect timeout is 5 s). */
const ANSWER_WITHIN_MS = 15_000;

describe('fault: PostgreSQL restarted under load', () => {
  let stack: Stack;
  let api: ApiProcess;
  const rec = new Recorder(new Set(['DATABASE_UNAVAILABLE']));
  let http: Http;
  let fx: Fixture;
  const startedAt = Date.now();

  beforeAll(async () => {
    console.log(`[faults] postgres: profile=${prof.name} seed=${seed} (replay with KAGI_RELIABILITY_SEED=${seed})`);
    build(root);
    stack = await startStack(root);
    api = new ApiProcess(root, apiEnv(stack, await freePort()));
    await api.start();
    http = new Http(api.url, rec);
    fx = await createFixture(http, stack, { tag: `pg${seed}` });
  });
  afterAll(async () => {
    await api?.destroy();
    await stack?.destroy();
  });

  async function probes(label: string): Promise<string[]> {
    const t = fx.token.id;
    const op = fx.operator.token;
    const calls: Array<[string, Promise<Answer>]> = [
      [
        'POST issue',
        http.call('POST', `/v1/tokens/${t}/issue`, {
          token: op,
          body: { userId: fx.holders[0]!.id, amount: '1' },
          headers: { 'idempotency-key': `pg-outage-${label}-${seed}` },
          timeoutMs: ANSWER_WITHIN_MS,
        }),
      ],
      ['GET transactions', http.call('GET', `/v1/transactions?tokenId=${t}&limit=5`, { token: op, timeoutMs: ANSWER_WITHIN_MS })],
      ['GET token', http.call('GET', `/v1/tokens/${t}`, { token: op, timeoutMs: ANSWER_WITHIN_MS })],
      ['GET me', http.call('GET', '/v1/auth/me', { token: op, timeoutMs: ANSWER_WITHIN_MS })],
      [
        'POST login',
        http.call('POST', '/v1/auth/login', {
          body: { loginId: fx.operator.loginId, password: fx.operator.password },
          timeoutMs: ANSWER_WITHIN_MS,
        }),
      ],
    ];
    const out: string[] = [];
    for (const [what, p] of calls) {
      const a = await p;
      out.push(...expectAnswer(a, 503, 'DATABASE_UNAVAILABLE', `${label}: ${what} while the database is down`));
      if (a.status === 503 && a.headers.get('retry-after') === null) out.push(`${label}: ${what}: 503 without Retry-After`);
    }
    return out;
  }

  it('answers 503 problems while the database is down and completes everything exactly once after it is back', async () => {
    const findings: string[] = [];
    const step = timeline('postgres');
    const load = new Load(http, fx, seed, 'pg', prof.concurrency, prof.opsPerSecond);
    rec.phase = 'steady';
    load.start();
    await sleep(prof.baselineMs);
    expect(await load.acceptedIn('steady', 1, 30_000), 'load accepted before the fault').toBe(true);
    let faults = 0;
    for (const [i, outageMs] of prof.postgresOutagesMs.entries()) {
      faults++;
      const label = `restart ${i + 1} (${outageMs} ms down)`;
      rec.phase = 'outage';
      await stack.pg.stop();
      const t0 = Date.now();
      step(`${label}: PostgreSQL stopped`);
      const down = await pollUntil(
        () => readiness(http),
        (r) => r.status === 503 && r.down.includes('database'),
        15_000,
      );
      if (!down.ok || down.value.down.includes('kms') || down.value.down.includes('chain'))
        findings.push(`${label}: /health/ready while the database is down: ${JSON.stringify(down.value)}`);
      step(`${label}: readiness ${down.value.status} (${down.value.down.join(', ')})`);
      findings.push(...(await probes(label)));
      step(`${label}: probes answered`);
      await sleep(Math.max(0, outageMs - (Date.now() - t0)));
      await stack.pg.start();
      rec.phase = 'recovery';
      step(`${label}: PostgreSQL started`);
      const up = await pollUntil(
        () => readiness(http),
        (r) => r.status === 200,
        60_000,
      );
      if (!up.ok) findings.push(`${label}: /health/ready after the database came back: ${JSON.stringify(up.value)}`);
      step(`${label}: readiness 200`);
      const before = load.accepted.length;
      if (!(await load.acceptedIn('recovery', 1, 30_000))) findings.push(`${label}: nothing accepted after the database came back`);
      rec.phase = 'steady';
      await sleep(prof.recoveryMs);
      step(`${label}: ${load.accepted.length - before} accepted since`);
    }
    await load.stop();
    expect(load.errors.map((e) => e.message)).toEqual([]);
    const v = await verify(http, stack, fx, load.accepted, { finalWithinMs: 180_000 });
    step('verified');
    findings.push(...v.findings, ...logFindings(api, rec, fx.secrets), ...rec.violations);
    summary('postgres', {
      profile: prof.name,
      seed,
      faults,
      survived: v.findings.length === 0 ? faults : 0,
      rec,
      accepted: load.accepted.length,
      extra: `confirmed=${v.confirmed} failed=${v.failed}`,
      startedAt,
    });
    expect(findings).toEqual([]);
  });
});
