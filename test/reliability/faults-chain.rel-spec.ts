/**
 * Fault: the chain node stops and comes back under load (issue 9, item 1).
 * Just before the stop, mining is switched off for a moment so that transactions kagi has
 * signed, stored and broadcast sit only in the node's mempool; the graceful stop keeps the
 * chain (Anvil's state file) but not the mempool, so those transactions are lost by the
 * node and must be re-broadcast by kagi from what it stored. During the outage
 * /health/ready is 503 naming `chain`, every pre-check and chain read answers 503
 * CHAIN_UNAVAILABLE, a token creation (no chain read before acceptance) is accepted and
 * stays queued with error CHAIN_UNAVAILABLE; afterwards readiness is 200, the token is
 * deployed, and everything accepted is on chain exactly once. No 500 anywhere.
 * A wallet reissued during the outage (issue 17: no chain read decides the freeze) has its old
 * address frozen on the firm's token once the node is back, by exactly one `system` freeze.
 */
import { createPublicClient, getAddress, http as viemHttp, type Address, type Hex } from 'viem';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { ApiProcess, build } from './support/api-process';
import { expectAnswer, Http, pollUntil, Recorder, sleep } from './support/client';
import { createFixture, type Fixture } from './support/fixture';
import { baseSeed, profile } from './support/profile';
import { logFindings, summary, timeline } from './support/report';
import { apiEnv, startStack, type Stack } from './support/stack';
import { describeTx, listTransactions, readiness, verify } from './support/verify';
import { Load } from './support/workload';
import { pdfText, printedPrivateKey } from '../support/pdf';

const root = process.cwd();
const prof = profile();
const seed = baseSeed();

describe('fault: chain node stopped and restarted under load', () => {
  let stack: Stack;
  let api: ApiProcess;
  const rec = new Recorder(new Set(['CHAIN_UNAVAILABLE']));
  let http: Http;
  let fx: Fixture;
  const startedAt = Date.now();

  beforeAll(async () => {
    console.log(`[faults] chain: profile=${prof.name} seed=${seed} (replay with KAGI_RELIABILITY_SEED=${seed})`);
    build(root);
    stack = await startStack(root);
    api = new ApiProcess(root, apiEnv(stack, await freePort()));
    await api.start();
    http = new Http(api.url, rec);
    fx = await createFixture(http, stack, { tag: `chain${seed}` });
  });
  afterAll(async () => {
    await api?.destroy();
    await stack?.destroy();
  });

  /** Every pre-check and chain read of the contract answers 503 CHAIN_UNAVAILABLE now. */
  async function chainCalls(): Promise<string[]> {
    const t = fx.token.id;
    const h = fx.holders[0]!.id;
    const op = fx.operator.token;
    const body = { userId: h, amount: '1' };
    const calls: Array<[string, Promise<import('./support/client').Answer>]> = [
      [
        'issue',
        http.call('POST', `/v1/tokens/${t}/issue`, { token: op, body, headers: { 'idempotency-key': `chain-outage-issue-${seed}` } }),
      ],
      ['redeem', http.call('POST', `/v1/tokens/${t}/redeem`, { token: op, body })],
      ['freeze', http.call('POST', `/v1/tokens/${t}/freeze`, { token: op, body: { userId: fx.frozen.id } })],
      ['GET token', http.call('GET', `/v1/tokens/${t}`, { token: op })],
      ['GET balance', http.call('GET', `/v1/tokens/${t}/balances/${h}`, { token: op })],
      ['GET holders', http.call('GET', `/v1/tokens/${t}/holders`, { token: op })],
      ['GET custody', http.call('GET', `/v1/tokens/${t}/custody`, { token: op })],
      ['GET signers', http.call('GET', '/v1/signers', { token: fx.admin })],
    ];
    const out: string[] = [];
    for (const [what, p] of calls) out.push(...expectAnswer(await p, 503, 'CHAIN_UNAVAILABLE', `chain down: ${what}`));
    // What needs no chain still answers.
    out.push(
      ...expectAnswer(
        await http.call('GET', `/v1/transactions?tokenId=${t}&limit=5`, { token: op }),
        200,
        undefined,
        'chain down: GET /v1/transactions',
      ),
    );
    return out;
  }

  it('refuses pre-checks with 503 CHAIN_UNAVAILABLE, re-broadcasts what the node lost, completes everything exactly once, and freezes a wallet reissued meanwhile', async () => {
    const findings: string[] = [];
    const step = timeline('chain');
    const chain = createPublicClient({ transport: viemHttp(stack.chain.url, { timeout: 5_000, retryCount: 0 }) });
    const load = new Load(http, fx, seed, 'chain', prof.concurrency, prof.opsPerSecond);
    rec.phase = 'steady';
    load.start();
    await sleep(prof.baselineMs);
    expect(await load.acceptedIn('steady', 1, 30_000), 'load accepted before the fault').toBe(true);

    // A holder outside the workload whose paper wallet will be reported lost during the outage.
    const lostUser = await http.call('POST', '/v1/users', {
      token: fx.operator.token,
      body: { name: '紛失 太郎', email: `lost.${seed}@example.jp`, externalRef: `chain-lost-${seed}` },
    });
    expect(lostUser.status, lostUser.text).toBe(201);
    const walletOf = async (query: string, body: Record<string, unknown>): Promise<Address> => {
      const w = await http.call('POST', `/v1/users/${lostUser.body.id}/wallet${query}`, { token: fx.admin, body });
      expect(w.status, w.text).toBe(201);
      fx.secrets.push(Buffer.from(printedPrivateKey(await pdfText(new Uint8Array(w.body as Buffer))).slice(2), 'hex'));
      return getAddress(w.headers.get('x-wallet-address')!);
    };
    const oldWallet = await walletOf('', {});

    // Mining off for a moment: what kagi broadcasts now stays in the mempool.
    await stack.chain.rpc('evm_setAutomine', [false]);
    await stack.chain.rpc('evm_setIntervalMining', [0]);
    const mark = load.accepted.length;
    const inPool = await pollUntil(
      async () => {
        const txs = await listTransactions(http, fx.operator.token, `tokenId=${fx.token.id}&status=submitted`);
        const pending: Hex[] = [];
        for (const t of txs)
          if (
            t.txHash &&
            (await chain.getTransaction({ hash: t.txHash }).then(
              (x) => x.blockNumber === null,
              () => false,
            ))
          )
            pending.push(t.txHash);
        return pending;
      },
      (p) => p.length >= 3 && load.accepted.length > mark,
      20_000,
    );
    if (!inPool.ok) findings.push(`only ${inPool.value.length} signed transactions reached the mempool while mining was off`);
    step(`${inPool.value.length} signed transactions only in the mempool`);

    // --- the node stops -------------------------------------------------------------------
    rec.phase = 'outage';
    await stack.chain.stop();
    const outageStart = Date.now();
    // What the node will come back with: its state file holds mined transactions only.
    const mined = stack.chain.minedInStateFile();
    const lost = inPool.value.filter((h) => !mined.has(h.toLowerCase()));
    if (lost.length === 0) findings.push('the stopped node kept every signed transaction: the re-broadcast path was not exercised');
    step(`node stopped; ${lost.length} of ${inPool.value.length} mempool transactions not in its state (lost)`);
    const down = await pollUntil(
      () => readiness(http),
      (r) => r.status === 503 && r.down.includes('chain'),
      15_000,
    );
    if (!down.ok || down.value.down.includes('database') || down.value.down.includes('kms'))
      findings.push(`/health/ready during the chain outage: ${JSON.stringify(down.value)}`);
    step(`readiness 503 (${down.value.down.join(', ')})`);
    findings.push(...(await chainCalls()));
    // A token creation reads nothing from the chain before acceptance: accepted, and held with the reason.
    const created = await http.call('POST', '/v1/tokens', {
      token: fx.operator.token,
      body: { name: 'Outage Bond', symbol: 'OUT', decimals: 0 },
      headers: { 'idempotency-key': `chain-outage-deploy-${seed}` },
    });
    findings.push(...expectAnswer(created, 202, undefined, 'chain down: POST /v1/tokens'));
    const deployId = created.body?.deployTransactionId as string | undefined;
    if (deployId) {
      const held = await pollUntil(
        () => http.call('GET', `/v1/transactions/${deployId}`, { token: fx.operator.token }),
        (r) => r.body?.status === 'queued' && r.body?.error?.code === 'CHAIN_UNAVAILABLE',
        prof.reasonWithinMs,
      );
      if (!held.ok)
        findings.push(`deploy accepted during the chain outage is not queued with CHAIN_UNAVAILABLE: ${held.value.text.slice(0, 300)}`);
    }
    // Whatever was still queued when the node went away shows why it waits.
    const queued = await pollUntil(
      () => listTransactions(http, fx.operator.token, `tokenId=${fx.token.id}&status=queued`),
      (txs) => txs.every((t) => t.error?.code === 'CHAIN_UNAVAILABLE'),
      prof.reasonWithinMs,
    );
    if (!queued.ok)
      findings.push(
        `${queued.value.filter((t) => t.error?.code !== 'CHAIN_UNAVAILABLE').length} queued operations without error CHAIN_UNAVAILABLE during the chain outage, e.g. ${queued.value.slice(0, 3).map(describeTx).join('; ')}`,
      );
    // The paper wallet is reported lost while the node is down: the reissue needs no chain.
    const newWallet = await walletOf('?reissue=true', { reason: 'paper wallet lost during a chain outage' });
    expect(newWallet).not.toBe(oldWallet);
    step(`checks done (${queued.value.length} queued), wallet reissued`);
    await sleep(Math.max(0, prof.outageMs - (Date.now() - outageStart)));

    // --- the node comes back (chain kept, mempool lost) -------------------------------------
    rec.phase = 'recovery';
    await stack.chain.start();
    step('node back');
    const up = await pollUntil(
      () => readiness(http),
      (r) => r.status === 200,
      30_000,
    );
    if (!up.ok) findings.push(`/health/ready after the node came back: ${JSON.stringify(up.value)}`);
    step('readiness 200');
    rec.phase = 'steady';
    await sleep(prof.recoveryMs);
    await load.stop();
    expect(load.errors.map((e) => e.message)).toEqual([]);
    if (created.body?.id) {
      const active = await pollUntil(
        () => http.call('GET', `/v1/tokens/${created.body.id}`, { token: fx.operator.token }),
        (r) => r.body?.status === 'active',
        60_000,
      );
      if (!active.ok) findings.push(`token created during the chain outage not deployed afterwards: ${active.value.text.slice(0, 300)}`);
    }
    // The reissue's freeze of the old wallet lands once the node is back: read on chain, and one system freeze.
    const frozenOnChain = await pollUntil(
      () => chain.readContract({ address: fx.token.address, abi: securityTokenAbi, functionName: 'isFrozen', args: [oldWallet] }),
      (f) => f === true,
      60_000,
    );
    if (!frozenOnChain.ok) findings.push(`the old wallet ${oldWallet} reissued during the outage is not frozen on chain afterwards`);
    const freezes = (await listTransactions(http, fx.operator.token, `tokenId=${fx.token.id}&kind=freeze`)).filter(
      (t) => typeof t.request.address === 'string' && t.request.address.toLowerCase() === oldWallet.toLowerCase(),
    );
    if (freezes.length !== 1 || freezes[0]!.status !== 'confirmed')
      findings.push(`the reissue's freezes: ${freezes.map(describeTx).join('; ') || 'none'} (want one, confirmed)`);
    // They are the test's own requests, not the workload's: verify must not count them as duplicates.
    fx.setupTxIds.push(...freezes.map((t) => t.id));
    const v = await verify(http, stack, fx, load.accepted, { finalWithinMs: 180_000 });
    step('verified');
    // The transactions the node lost were mined after all (verify checked each exactly once).
    const byHash = new Map(v.txs.flatMap((t) => [t.txHash, ...t.replacedTxHashes].filter(Boolean).map((h) => [h!.toLowerCase(), t])));
    for (const h of lost)
      if (byHash.get(h.toLowerCase())?.status !== 'confirmed')
        findings.push(`transaction ${h} lost with the node's mempool did not end confirmed`);
    if (v.outOfOrder.length)
      console.log(`[faults] chain: signed out of acceptance order (${v.outOfOrder.length}), e.g. ${v.outOfOrder.slice(0, 3).join('; ')}`);
    findings.push(...v.findings, ...logFindings(api, rec, fx.secrets), ...rec.violations);
    summary('chain', {
      profile: prof.name,
      seed,
      faults: 1,
      survived: v.findings.length === 0 ? 1 : 0,
      rec,
      accepted: load.accepted.length,
      extra: `inMempoolAtStop=${inPool.value.length} lostByNode=${lost.length} confirmed=${v.confirmed} failed=${v.failed} signedOutOfOrder=${v.outOfOrder.length}`,
      startedAt,
    });
    expect(findings).toEqual([]);
  });
});
