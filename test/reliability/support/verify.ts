/**
 * After a fault: is every accepted operation on chain exactly once, and is anything
 * stuck? Asserted only through public surfaces: the HTTP API (transactions, custody,
 * signers) and INDEPENDENT viem reads of the chain (balances, supply, freeze state,
 * the token's event logs, the signer's nonce), compared with a model computed from
 * what the client saw accepted. Returns findings (empty = fine) so a file can report
 * every problem of a run at once.
 */
import { createPublicClient, getAddress, http as viemHttp, parseEventLogs, zeroAddress, type Address, type Hex } from 'viem';
import { securityTokenAbi } from '../../../src/chain/contracts/security-token.abi';
import { pollUntil, type Http } from './client';
import { SEED_CUSTODY, SEED_ISSUE, type Fixture } from './fixture';
import type { Stack } from './stack';
import type { Accepted } from './workload';

export interface Tx {
  id: string;
  tokenId: string | null;
  kind: string;
  status: 'queued' | 'submitted' | 'confirmed' | 'failed' | 'cancelled';
  from: string;
  nonce: number | null;
  txHash: Hex | null;
  replacedTxHashes: Hex[];
  blockNumber: number | null;
  attempts: number;
  error: { code: string; message: string } | null;
  request: Record<string, unknown>;
  createdAt: string;
}

const FINAL = new Set(['confirmed', 'failed', 'cancelled']);

export async function listTransactions(http: Http, token: string, query = ''): Promise<Tx[]> {
  const out: Tx[] = [];
  let cursor: string | null = null;
  for (;;) {
    const q = `/v1/transactions?limit=100${query ? `&${query}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await http.call('GET', q, { token });
    if (r.status !== 200) throw new Error(`GET ${q}: ${r.status} ${r.text.slice(0, 200)}`);
    out.push(...(r.body.items as Tx[]));
    cursor = r.body.nextCursor as string | null;
    if (!cursor) return out;
  }
}

/** Polls the token's transactions until none is queued or submitted; returns the last listing. */
async function waitAllFinal(http: Http, fx: Fixture, timeoutMs: number): Promise<{ ok: boolean; txs: Tx[]; ms: number }> {
  const r = await pollUntil(
    () => listTransactions(http, fx.operator.token, `tokenId=${fx.token.id}`),
    (txs) => txs.every((t) => FINAL.has(t.status)),
    timeoutMs,
    500,
  );
  return { ok: r.ok, txs: r.value, ms: r.ms };
}

export function describeTx(t: Tx): string {
  return `${t.kind} ${t.id} ${t.status} nonce=${t.nonce} attempts=${t.attempts} hash=${t.txHash} error=${t.error ? `${t.error.code}: ${t.error.message}` : 'none'}`;
}

interface Expected {
  supply: bigint;
  balances: Map<string, bigint>;
  ledger: Map<string, bigint>;
  custodyOnChain: bigint;
  frozen: boolean;
}

/** The model: seeds plus every accepted operation that the API reports confirmed. */
function model(fx: Fixture, accepted: Accepted[], byId: Map<string, Tx>): Expected {
  const balances = new Map<string, bigint>();
  const ledger = new Map<string, bigint>();
  const add = (m: Map<string, bigint>, k: string, v: bigint) => m.set(k, (m.get(k) ?? 0n) + v);
  let supply = 0n;
  let custodyOnChain = 0n;
  for (const h of [...fx.holders, fx.frozen]) {
    add(balances, h.id, SEED_ISSUE);
    supply += SEED_ISSUE;
  }
  for (const h of fx.holders) {
    add(balances, h.id, -SEED_CUSTODY);
    add(ledger, h.id, SEED_CUSTODY);
    custodyOnChain += SEED_CUSTODY;
  }
  let lastFreeze: { nonce: number; frozen: boolean } | undefined;
  for (const a of accepted) {
    const t = byId.get(a.txId);
    if (t?.status !== 'confirmed') continue;
    const b = a.op.body;
    const amount = b.amount ? BigInt(b.amount) : 0n;
    switch (a.op.kind) {
      case 'issue':
        add(balances, b.userId!, amount);
        supply += amount;
        break;
      case 'redeem':
        add(balances, b.userId!, -amount);
        supply -= amount;
        break;
      case 'forced-transfer':
        add(balances, b.fromUserId!, -amount);
        add(balances, b.toUserId!, amount);
        break;
      case 'deposit':
        add(balances, b.userId!, -amount);
        add(ledger, b.userId!, amount);
        custodyOnChain += amount;
        break;
      case 'withdraw':
        add(balances, b.userId!, amount);
        add(ledger, b.userId!, -amount);
        custodyOnChain -= amount;
        break;
      case 'freeze':
      case 'unfreeze':
        if (t.nonce !== null && (!lastFreeze || t.nonce > lastFreeze.nonce))
          lastFreeze = { nonce: t.nonce, frozen: a.op.kind === 'freeze' };
        break;
    }
  }
  return { supply, balances, ledger, custodyOnChain, frozen: lastFreeze?.frozen ?? false };
}

export interface VerifyResult {
  findings: string[];
  txs: Tx[];
  confirmed: number;
  failed: number;
  /**
   * Signed out of acceptance order (a later-accepted operation got the lower nonce). Reported,
   * not a finding: design.md promises "one signer's rows in order", the issue does not ask it.
   */
  outOfOrder: string[];
}

export async function verify(
  http: Http,
  stack: Stack,
  fx: Fixture,
  accepted: Accepted[],
  opts: { finalWithinMs: number },
): Promise<VerifyResult> {
  const findings: string[] = [];
  const prev = http.rec.phase;
  http.rec.phase = 'verify';
  try {
    // 1. Nothing stuck: every transaction of the token becomes final.
    const fin = await waitAllFinal(http, fx, opts.finalWithinMs);
    const txs = fin.txs;
    if (!fin.ok)
      for (const t of txs.filter((x) => !FINAL.has(x.status))) findings.push(`not final after ${opts.finalWithinMs} ms: ${describeTx(t)}`);
    const byId = new Map(txs.map((t) => [t.id, t]));

    // 2. Exactly once at the API: one transaction per Idempotency-Key, no transaction nobody asked for.
    const perKey = new Map<string, Set<string>>();
    for (const a of accepted) perKey.set(a.op.key, (perKey.get(a.op.key) ?? new Set()).add(a.txId));
    for (const [k, ids] of perKey)
      if (ids.size !== 1) findings.push(`Idempotency-Key ${k} answered with ${ids.size} different transactions: ${[...ids].join(', ')}`);
    const wanted = new Set([...fx.setupTxIds, ...accepted.map((a) => a.txId)]);
    for (const t of txs)
      if (!wanted.has(t.id)) findings.push(`transaction nobody's accepted request created (a duplicate?): ${describeTx(t)}`);
    for (const id of wanted) if (!byId.has(id)) findings.push(`accepted transaction ${id} missing from GET /v1/transactions`);
    for (const a of accepted) {
      const t = byId.get(a.txId);
      if (!t) continue;
      if (t.kind !== a.op.kind || (a.op.body.amount !== undefined && t.request.amount !== a.op.body.amount))
        findings.push(
          `transaction ${t.id} for key ${a.op.key} is ${t.kind} ${String(t.request.amount)}, the request was ${a.op.kind} ${a.op.body.amount}`,
        );
      // The workload never asks for what can fail: a failed or cancelled operation is a finding, with its reason.
      if (t.status === 'failed' || t.status === 'cancelled') findings.push(`accepted operation ended ${t.status}: ${describeTx(t)}`);
      if (t.status === 'failed' && !t.error?.code) findings.push(`failed without a reason: ${describeTx(t)}`);
    }
    const confirmed = txs.filter((t) => t.status === 'confirmed').length;
    const failed = txs.filter((t) => t.status === 'failed').length;

    // 3. Nonces: contiguous from 0 over all of the signer's transactions, and exactly the node's count.
    const chain = createPublicClient({ transport: viemHttp(stack.chain.url, { timeout: 10_000 }) });
    const all = await listTransactions(http, fx.operator.token);
    const nonces = all
      .filter((t) => t.nonce !== null && t.status !== 'queued')
      .map((t) => t.nonce!)
      .sort((a, b) => a - b);
    const dup = nonces.filter((n, i) => i > 0 && nonces[i - 1] === n);
    if (dup.length) findings.push(`nonces used twice: ${[...new Set(dup)].join(', ')}`);
    const uniq = [...new Set(nonces)];
    if (uniq.some((n, i) => n !== i)) findings.push(`nonces not contiguous from 0: ${uniq.slice(0, 50).join(',')}…`);
    const byNonce = all.filter((t) => t.nonce !== null && t.status !== 'queued').sort((a, b) => a.nonce! - b.nonce!);
    const outOfOrder: string[] = [];
    for (let i = 1; i < byNonce.length; i++) {
      const a = byNonce[i - 1]!;
      const b = byNonce[i]!;
      // Concurrent acceptances have no order between them; a second apart they do.
      if (Date.parse(a.createdAt) - Date.parse(b.createdAt) >= 1000)
        outOfOrder.push(`nonce ${b.nonce} (${b.kind} accepted ${b.createdAt}) before nonce ${a.nonce} (${a.kind} accepted ${a.createdAt})`);
    }
    const onChainCount = await chain.getTransactionCount({ address: fx.operator.signer, blockTag: 'latest' });
    if (onChainCount !== uniq.length)
      findings.push(`the node counts ${onChainCount} transactions from the signer, kagi has ${uniq.length} nonces`);

    // 4. Independent chain reads against the model.
    const exp = model(fx, accepted, byId);
    const read = <T>(functionName: string, args: unknown[] = []) =>
      chain.readContract({
        address: fx.token.address,
        abi: securityTokenAbi,
        functionName: functionName as never,
        args: args,
      }) as Promise<T>;
    const supply = await read<bigint>('totalSupply');
    if (supply !== exp.supply)
      findings.push(`totalSupply on chain ${supply}, model of accepted operations ${exp.supply} (difference ${supply - exp.supply})`);
    for (const h of [...fx.holders, fx.frozen]) {
      const bal = await read<bigint>('balanceOf', [h.address]);
      const want = exp.balances.get(h.id) ?? 0n;
      if (bal !== want) findings.push(`balance of ${h.id} on chain ${bal}, model ${want} (difference ${bal - want})`);
    }
    const custodyBal = await read<bigint>('balanceOf', [fx.operator.custody]);
    if (custodyBal !== exp.custodyOnChain) findings.push(`custody address balance on chain ${custodyBal}, model ${exp.custodyOnChain}`);
    const isFrozen = await read<boolean>('isFrozen', [fx.frozen.address]);
    if (isFrozen !== exp.frozen)
      findings.push(`isFrozen(frozen user) on chain ${isFrozen}, model (last confirmed freeze/unfreeze by nonce) ${exp.frozen}`);

    // 5. The token's event log: each confirmed operation's event exactly once, under its own hash, and no other transaction.
    const deploy = byId.get(fx.token.deployTransactionId);
    const logs = await chain.getLogs({ address: fx.token.address, fromBlock: BigInt(deploy?.blockNumber ?? 0), toBlock: 'latest' });
    const events = parseEventLogs({ abi: securityTokenAbi, logs });
    const byHash = new Map<string, typeof events>();
    for (const e of events) byHash.set(e.transactionHash, [...(byHash.get(e.transactionHash) ?? []), e]);
    const known = new Map(txs.filter((t) => t.status === 'confirmed' && t.txHash).map((t) => [t.txHash!.toLowerCase(), t]));
    for (const h of byHash.keys())
      if (!known.has(h.toLowerCase()))
        findings.push(`on-chain transaction ${h} changed the token but is no confirmed kagi transaction (applied twice?)`);
    const addr = new Map<string, Address>([...fx.holders, fx.frozen].map((h) => [h.id, h.address]));
    const custody = fx.operator.custody;
    const transfers = (evs: typeof events) => evs.filter((e) => e.eventName === 'Transfer').map((e) => e.args);
    for (const a of accepted) {
      const t = byId.get(a.txId);
      if (t?.status !== 'confirmed' || !t.txHash) continue;
      const evs = byHash.get(t.txHash.toLowerCase()) ?? [];
      const b = a.op.body;
      const amount = b.amount ? BigInt(b.amount) : 0n;
      const move = (from: Address, to: Address) => {
        const ts = transfers(evs);
        if (ts.length !== 1 || getAddress(ts[0]!.from) !== from || getAddress(ts[0]!.to) !== to || ts[0]!.value !== amount)
          findings.push(
            `${a.op.kind} ${t.id} (${t.txHash}): expected one Transfer ${from}→${to} of ${amount}, found ${JSON.stringify(ts, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
          );
      };
      switch (a.op.kind) {
        case 'issue':
          move(zeroAddress, addr.get(b.userId!)!);
          break;
        case 'redeem':
          move(addr.get(b.userId!)!, zeroAddress);
          break;
        case 'forced-transfer':
          move(addr.get(b.fromUserId!)!, addr.get(b.toUserId!)!);
          break;
        case 'deposit':
          move(addr.get(b.userId!)!, custody);
          break;
        case 'withdraw':
          move(custody, addr.get(b.userId!)!);
          break;
        case 'freeze':
        case 'unfreeze': {
          const fz = evs.filter((e) => e.eventName === 'AddressFrozen').map((e) => e.args as { userAddress: Address; isFrozen: boolean });
          if (fz.length !== 1 || getAddress(fz[0]!.userAddress) !== fx.frozen.address || fz[0]!.isFrozen !== (a.op.kind === 'freeze'))
            findings.push(`${a.op.kind} ${t.id}: expected one AddressFrozen event, found ${fz.length}`);
          break;
        }
      }
    }

    // 6. The custody ledger (applied on confirmation, in kagi's database) against the model and the chain.
    const cu = await http.call('GET', `/v1/tokens/${fx.token.id}/custody`, { token: fx.operator.token });
    if (cu.status !== 200) findings.push(`GET custody: ${cu.status}`);
    else {
      const items = new Map((cu.body.items as Array<{ userId: string; amount: string }>).map((i) => [i.userId, BigInt(i.amount)]));
      for (const [u, want] of exp.ledger)
        if ((items.get(u) ?? 0n) !== want) findings.push(`custody ledger of ${u} is ${items.get(u) ?? 0n}, model ${want}`);
      if (BigInt(cu.body.onChainBalance as string) !== exp.custodyOnChain)
        findings.push(`custody onChainBalance ${cu.body.onChainBalance}, model ${exp.custodyOnChain}`);
    }

    // 7. The signer's queue as ops see it.
    const sg = await http.call('GET', '/v1/signers', { token: fx.admin });
    const mine = (sg.body?.items as Array<{ address: string; queued: number }> | undefined)?.find(
      (s) => getAddress(s.address) === fx.operator.signer,
    );
    if (sg.status !== 200 || !mine) findings.push(`GET /v1/signers: ${sg.status} ${sg.text.slice(0, 200)}`);
    else if (mine.queued !== 0) findings.push(`signer still has ${mine.queued} queued transactions`);

    return { findings, txs, confirmed, failed, outOfOrder };
  } finally {
    http.rec.phase = prev;
  }
}

/** Readiness as the contract shows it: 200, or 503 with `error` naming the broken parts. */
export async function readiness(http: Http): Promise<{ status: number; down: string[] }> {
  const r = await http.call('GET', '/health/ready', { timeoutMs: 15_000 });
  const err = (r.body?.error ?? {}) as Record<string, { status?: string }>;
  return {
    status: r.status,
    down: Object.entries(err)
      .filter(([, v]) => v?.status === 'down')
      .map(([k]) => k)
      .sort(),
  };
}
