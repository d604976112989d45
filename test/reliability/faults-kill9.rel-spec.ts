/**
 * Fault: the API is killed with SIGKILL at a random moment of a mixed workload, started
 * again, and the client retries every operation with its Idempotency-Key until accepted
 * (issue 9, item 1: 20 runs in the full profile, 5 in quick). Each run's kill moment
 * comes from the run's seed (printed). After every run: each key answered one
 * transaction (a replay of every operation returns the same id), every transaction is
 * final and confirmed, and independent chain reads (supply, balances, custody, freeze
 * state, the token's event log, the signer's nonce count) equal the model of everything
 * accepted so far: each accepted operation on chain exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { ApiProcess, build } from './support/api-process';
import { Http, pollUntil, Recorder, sleep } from './support/client';
import { createFixture, type Fixture } from './support/fixture';
import { baseSeed, mix32, profile, rng } from './support/profile';
import { logFindings, summary, timeline } from './support/report';
import { apiEnv, startStack, type Stack } from './support/stack';
import { verify } from './support/verify';
import { makeOp, submit, type Accepted } from './support/workload';

const root = process.cwd();
const prof = profile();
const seed = baseSeed();

async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await f(items[next++]!);
    }),
  );
}

describe('fault: kill -9 of the API at random moments, idempotent client retries', () => {
  let stack: Stack;
  let api: ApiProcess;
  // A dead API answers nothing (allowed while it is down); a live one never answers 5xx here.
  const rec = new Recorder(new Set());
  let http: Http;
  let fx: Fixture;
  const startedAt = Date.now();

  beforeAll(async () => {
    console.log(`[faults] kill9: profile=${prof.name} seed=${seed} runs=${prof.killRuns} (replay with KAGI_RELIABILITY_SEED=${seed})`);
    build(root);
    stack = await startStack(root);
    api = new ApiProcess(root, apiEnv(stack, await freePort()));
    await api.start();
    http = new Http(api.url, rec);
    fx = await createFixture(http, stack, { tag: `k9${seed}` });
  });
  afterAll(async () => {
    await api?.destroy();
    await stack?.destroy();
  });

  it(`every accepted operation is on chain exactly once after each of ${prof.killRuns} kills`, async () => {
    const step = timeline('kill9');
    const findings: string[] = [];
    const accepted: Accepted[] = [];
    let survived = 0;
    const restarts: number[] = [];
    for (let run = 1; run <= prof.killRuns; run++) {
      const runSeed = mix32(seed, run);
      // The random moment, by progress rather than by the clock (so it means the same on a slow
      // machine): a third of the runs after every operation is accepted (up to killWindowMs later,
      // while signing, broadcasting or confirming), the rest just after the k-th acceptance, with
      // requests in flight.
      const r = rng(runSeed);
      const afterAll = r() < 1 / 3;
      const killAfter = afterAll ? prof.killOpsPerRun : Math.floor(r() * prof.killOpsPerRun);
      const jitter = Math.floor(r() * (afterAll ? prof.killWindowMs : 50));
      const ops = Array.from({ length: prof.killOpsPerRun }, (_, i) => makeOp(runSeed, i, fx, `k9-r${run}`));
      const mine: Accepted[] = [];
      rec.phase = 'steady';
      const t0 = Date.now();
      // The client: every operation sent and retried with its key until accepted, across the kill.
      const sending = pool(ops, prof.concurrency, async (op) => {
        mine.push(await submit(http, fx, op, Date.now() + 120_000));
      });
      sending.catch(() => undefined); // awaited below; a rejection before then is not unhandled
      const reached = await pollUntil(
        async () => mine.length,
        (n) => n >= killAfter,
        60_000,
        2,
      );
      if (!reached.ok) findings.push(`run ${run}: only ${mine.length} of ${killAfter} operations accepted before the kill`);
      await sleep(jitter);
      const acceptedAtKill = mine.length;
      rec.phase = 'api-down';
      await api.kill9();
      const killedAfter = Date.now() - t0;
      restarts.push(await api.start());
      rec.phase = 'steady';
      let sendError: unknown;
      await sending.catch((e: unknown) => (sendError = e));
      if (sendError) {
        findings.push(`run ${run}: ${sendError instanceof Error ? sendError.message : JSON.stringify(sendError)}`);
        break;
      }
      // A replay of every operation returns the transaction it created, nothing new.
      for (const op of ops) {
        const r = await http.call('POST', `/v1/tokens/${fx.token.id}/${op.kind}`, {
          token: fx.operator.token,
          body: op.body,
          headers: { 'idempotency-key': op.key },
        });
        const first = mine.find((a) => a.op.key === op.key);
        if (![200, 202].includes(r.status) || r.body?.id !== first?.txId)
          findings.push(
            `run ${run}: replay of ${op.key} answered ${r.status} ${r.body?.id ?? r.text.slice(0, 200)}, first answer ${first?.txId}`,
          );
      }
      accepted.push(...mine);
      const v = await verify(http, stack, fx, accepted, { finalWithinMs: 120_000 });
      if (v.findings.length === 0) survived++;
      findings.push(...v.findings.map((f) => `run ${run} (seed ${runSeed}, kill at ${killedAfter} ms): ${f}`));
      step(
        `run ${run}/${prof.killRuns} seed=${runSeed} killed at ${killedAfter} ms (after acceptance ${killAfter} + ${jitter} ms) with ${acceptedAtKill}/${ops.length} accepted; restart ${restarts.at(-1)} ms; ${v.confirmed} confirmed; findings ${v.findings.length}`,
      );
      if (findings.length > 50) break;
    }
    // The verifier is not blind: with one accepted operation left out of the model it must object.
    const blind = await verify(http, stack, fx, accepted.slice(1), { finalWithinMs: 10_000 });
    if (blind.findings.length === 0) findings.push('the verifier found nothing wrong with a model missing an accepted operation');
    findings.push(...logFindings(api, rec, fx.secrets), ...rec.violations);
    const avg = restarts.length ? Math.round(restarts.reduce((s, x) => s + x, 0) / restarts.length) : 0;
    summary('kill9', {
      profile: prof.name,
      seed,
      faults: restarts.length,
      survived,
      rec,
      accepted: accepted.length,
      extra: `restartToReadyAvg=${avg}ms`,
      startedAt,
    });
    expect(findings).toEqual([]);
  });
});
