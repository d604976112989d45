/**
 * Fault: the KMS stops and comes back under load (issue 9, item 1).
 * - refused: the KMS endpoint refuses connections (see support/stack.ts for why a proxy);
 * - hung (full profile): moto itself is stopped (SIGSTOP), so calls hang until the SDK's timeouts.
 * During the outage /health/ready is 503 naming `kms` (and only it), synchronous KMS calls
 * (operator and issuer creation, key rewrap) answer 503 KMS_UNAVAILABLE and leave nothing
 * half-created, token operations are still accepted and stay `queued` with
 * error KMS_UNAVAILABLE; afterwards readiness is 200 and everything accepted is on chain
 * exactly once. No 500 anywhere, no key material in any log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { ApiProcess, build } from './support/api-process';
import { Http, pollUntil, Recorder, sleep } from './support/client';
import { createFixture, type Fixture } from './support/fixture';
import { baseSeed, profile } from './support/profile';
import { logFindings, summary, timeline } from './support/report';
import { apiEnv, startStack, type Stack } from './support/stack';
import { describeTx, listTransactions, readiness, verify } from './support/verify';
import { Load } from './support/workload';

const root = process.cwd();
const prof = profile();
const seed = baseSeed();

describe('fault: KMS stopped and restarted under load', () => {
  let stack: Stack;
  let api: ApiProcess;
  const rec = new Recorder(new Set(['KMS_UNAVAILABLE']));
  let http: Http;
  let fx: Fixture;
  const startedAt = Date.now();

  beforeAll(async () => {
    console.log(`[faults] kms: profile=${prof.name} seed=${seed} (replay with KAGI_RELIABILITY_SEED=${seed})`);
    build(root);
    stack = await startStack(root);
    api = new ApiProcess(root, apiEnv(stack, await freePort()));
    await api.start();
    http = new Http(api.url, rec);
    fx = await createFixture(http, stack, { tag: `kms${seed}` });
  });
  afterAll(async () => {
    await api?.destroy();
    await stack?.destroy();
  });

  /** The synchronous KMS calls of the contract: each must answer 503 KMS_UNAVAILABLE now. */
  async function syncKmsCalls(label: string): Promise<string[]> {
    const findings: string[] = [];
    const loginId = `kms-outage-${label}-${seed}`;
    const calls = [
      http.call('POST', '/v1/operators', {
        token: fx.admin,
        body: { name: 'KMS停止中', email: `${loginId}@example.jp`, password: 'outage-password-long', loginId },
      }),
      http.call('POST', '/v1/issuers', { token: fx.admin, body: { name: `issuer during ${label}` } }),
      http.call('POST', `/v1/operators/${fx.operator.id}/key-rewrap`, { token: fx.admin, body: {} }),
    ];
    for (const [i, a] of (await Promise.all(calls)).entries()) {
      if (a.status !== 503 || a.body?.code !== 'KMS_UNAVAILABLE')
        findings.push(
          `${label}: synchronous KMS call ${i} answered ${a.status} ${a.text.slice(0, 200)} (${a.ms} ms), want 503 KMS_UNAVAILABLE`,
        );
    }
    return findings;
  }

  /** Nothing half-created by a refused operator creation: the loginId is free and cannot log in. */
  async function nothingHalfCreated(label: string): Promise<string[]> {
    const loginId = `kms-outage-${label}-${seed}`;
    const l = await http.call('POST', '/v1/auth/login', { body: { loginId, password: 'outage-password-long' } });
    const c = await http.call('POST', '/v1/operators', {
      token: fx.admin,
      body: { name: 'KMS復旧後', email: `${loginId}@example.jp`, password: 'outage-password-long', loginId },
    });
    const out: string[] = [];
    if (l.status !== 401) out.push(`${label}: login as the operator refused during the outage answered ${l.status}`);
    if (c.status !== 201) out.push(`${label}: creating the refused operator again answered ${c.status} ${c.text.slice(0, 200)}`);
    return out;
  }

  /** Every operation accepted during the outage is still queued, with the reason. */
  async function queuedWithReason(ids: string[], label: string): Promise<string[]> {
    const want = new Set(ids);
    const r = await pollUntil(
      async () => (await listTransactions(http, fx.operator.token, `tokenId=${fx.token.id}`)).filter((t) => want.has(t.id)),
      (txs) => txs.length === want.size && txs.every((t) => t.status === 'queued' && t.error?.code === 'KMS_UNAVAILABLE'),
      prof.reasonWithinMs,
      500,
    );
    if (r.ok) return [];
    const bad = r.value.filter((t) => t.status !== 'queued' || t.error?.code !== 'KMS_UNAVAILABLE');
    return [
      `${label}: ${bad.length} of ${want.size} operations accepted during the KMS outage are not "queued with error KMS_UNAVAILABLE" after ${r.ms} ms, e.g. ${bad.slice(0, 3).map(describeTx).join('; ')}`,
    ];
  }

  it('keeps accepting, answers 503 KMS_UNAVAILABLE for synchronous KMS calls, and completes everything exactly once afterwards', async () => {
    const findings: string[] = [];
    const step = timeline('kms');
    const load = new Load(http, fx, seed, 'kms', prof.concurrency, prof.opsPerSecond);
    rec.phase = 'steady';
    load.start();
    await sleep(prof.baselineMs);
    expect(await load.acceptedIn('steady', 1, 30_000), 'load accepted before the fault').toBe(true);
    let faults = 0;

    // --- refused: the endpoint is gone -------------------------------------------------
    faults++;
    rec.phase = 'outage';
    await stack.kms.down();
    const outageStart = Date.now();
    step('KMS endpoint down');
    const down = await pollUntil(
      () => readiness(http),
      (r) => r.status === 503 && r.down.includes('kms'),
      15_000,
    );
    if (!down.ok || down.value.down.join() !== 'kms')
      findings.push(`refused: /health/ready during the KMS outage: ${JSON.stringify(down.value)}`);
    step('readiness 503');
    findings.push(...(await syncKmsCalls('refused')));
    step('synchronous KMS calls answered');
    if (!(await load.acceptedIn('outage', 3, 30_000)))
      findings.push('refused: fewer than 3 token operations accepted during the KMS outage');
    await sleep(Math.max(0, prof.outageMs - (Date.now() - outageStart)));
    load.pause();
    step('load paused');
    findings.push(
      ...(await queuedWithReason(
        load.accepted.filter((a) => a.phase === 'outage').map((a) => a.txId),
        'refused',
      )),
    );
    step('operations accepted during the outage queued with KMS_UNAVAILABLE');
    rec.phase = 'recovery';
    await stack.kms.up();
    load.resume();
    const up = await pollUntil(
      () => readiness(http),
      (r) => r.status === 200,
      30_000,
    );
    if (!up.ok) findings.push(`refused: /health/ready after the KMS came back: ${JSON.stringify(up.value)}`);
    step('KMS back, readiness 200');
    findings.push(...(await nothingHalfCreated('refused')));
    rec.phase = 'steady';
    await sleep(prof.recoveryMs);

    // --- hung: the KMS accepts connections and never answers (full profile) ------------
    if (prof.kmsHangMs > 0) {
      faults++;
      const before = load.accepted.length;
      rec.phase = 'outage';
      stack.kms.hang();
      const hangStart = Date.now();
      step('KMS hangs (moto stopped)');
      const hdown = await pollUntil(
        () => readiness(http),
        (r) => r.status === 503 && r.down.includes('kms'),
        20_000,
      );
      if (!hdown.ok || hdown.value.down.join() !== 'kms')
        findings.push(`hung: /health/ready while the KMS hangs: ${JSON.stringify(hdown.value)}`);
      findings.push(...(await syncKmsCalls('hung')));
      step('synchronous KMS calls answered');
      await sleep(Math.max(0, prof.kmsHangMs - (Date.now() - hangStart)));
      load.pause();
      const hungIds = load.accepted
        .slice(before)
        .filter((a) => a.phase === 'outage')
        .map((a) => a.txId);
      if (hungIds.length < 3) findings.push(`hung: only ${hungIds.length} token operations accepted while the KMS hung`);
      findings.push(...(await queuedWithReason(hungIds, 'hung')));
      step('operations accepted while the KMS hung checked');
      rec.phase = 'recovery';
      stack.kms.resume();
      load.resume();
      const hup = await pollUntil(
        () => readiness(http),
        (r) => r.status === 200,
        60_000,
      );
      if (!hup.ok) findings.push(`hung: /health/ready after the KMS answered again: ${JSON.stringify(hup.value)}`);
      step('KMS answers again, readiness 200');
      findings.push(...(await nothingHalfCreated('hung')));
      rec.phase = 'steady';
      await sleep(prof.recoveryMs);
    }

    await load.stop();
    step('load stopped');
    expect(load.errors.map((e) => e.message)).toEqual([]);
    const v = await verify(http, stack, fx, load.accepted, { finalWithinMs: 180_000 });
    step('verified');
    if (v.outOfOrder.length)
      console.log(`[faults] kms: signed out of acceptance order (${v.outOfOrder.length}), e.g. ${v.outOfOrder.slice(0, 3).join('; ')}`);
    findings.push(...v.findings, ...logFindings(api, rec, fx.secrets), ...rec.violations);
    summary('kms', {
      profile: prof.name,
      seed,
      faults,
      survived: v.findings.length === 0 ? faults : 0,
      rec,
      accepted: load.accepted.length,
      extra: `acceptedDuringOutage=${load.accepted.filter((a) => a.phase === 'outage').length} confirmed=${v.confirmed} failed=${v.failed} signedOutOfOrder=${v.outOfOrder.length}`,
      startedAt,
    });
    expect(findings).toEqual([]);
  });
});
