/**
 * The soak's model (bench/soak-model.ts) claims that what it plans is certain whatever
 * order the pending operations land in. Checked here against a simulated chain and
 * kagi's pre-checks in their worst case: every planned acceptance passes the pre-check
 * and then succeeds on chain, in any execution and observation order; every planned
 * refusal fails the pre-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ledgerKey, percentile, plan, rng, slope, TokenModel, type Lane, type Plan } from '../../bench/soak-model';

const lane: Lane = {
  name: 'T/op',
  tokenId: 't',
  operatorId: 'op',
  custody: '0xc0',
  users: ['0xa1', '0xa2', '0xa3', '0xa4'].map((address, i) => ({ id: `u${i}`, address })),
};
const addrOf = new Map(lane.users.map((u) => [u.id, u.address]));

interface Op {
  p: Plan;
  state: 'pending' | 'mined';
}

function simulate(seed: number, steps: number[]): void {
  const m = new TokenModel();
  const r = rng(seed);
  const chain = new Map<string, bigint>();
  const frozen = new Set<string>();
  const ledger = new Map<string, bigint>();
  const ops: Op[] = [];
  const bal = (a: string) => chain.get(a) ?? 0n;
  // kagi counts a debit as pending until it records the receipt, which may be after it is mined.
  const kagiPending = (a: string, include: (o: Op) => boolean) =>
    ops.filter((o) => include(o) && o.p.effects.debit?.holder === a).reduce((s, o) => s + o.p.effects.debit!.amount, 0n);
  const pendingWithdrawals = (key: string) =>
    ops
      .filter((o) => o.state === 'pending' && o.p.effects.ledger?.dir === 'out' && o.p.effects.ledger.key === key)
      .reduce((s, o) => s + o.p.effects.ledger!.amount, 0n);

  /** kagi's pre-check: true when it would accept. `worst` counts mined-but-unrecorded debits too. */
  const precheck = (p: Plan, worst: boolean): boolean => {
    const include = (o: Op) => o.state === 'pending' || (worst && o.state === 'mined');
    const receiver =
      p.kind === 'issue'
        ? addrOf.get(p.body.userId!)
        : p.kind === 'forced-transfer'
          ? addrOf.get(p.body.toUserId!)
          : p.kind === 'withdraw'
            ? addrOf.get(p.body.userId!)
            : p.kind === 'deposit'
              ? lane.custody
              : undefined;
    if (receiver && frozen.has(receiver)) return false;
    const amount = BigInt(p.body.amount ?? '0');
    if (p.kind === 'withdraw') {
      const key = ledgerKey(lane.operatorId, p.body.userId!);
      if ((ledger.get(key) ?? 0n) - pendingWithdrawals(key) < amount) return false;
    }
    const d = p.effects.debit;
    if (d && bal(d.holder) - kagiPending(d.holder, include) < amount) return false;
    return true;
  };

  for (const step of steps) {
    const action = step % 3;
    if (action === 0) {
      const p = plan(m, lane, r);
      if (!p) continue;
      if (p.expect.status === 202) {
        expect(precheck(p, true), `${p.label} ${JSON.stringify(p.body)} would be refused`).toBe(true);
        ops.push({ p, state: 'pending' });
      } else {
        expect(precheck(p, false), `${p.label} ${JSON.stringify(p.body)} would be accepted`).toBe(false);
      }
    } else if (action === 1) {
      // Mine any pending operation: the order on chain is not the order of planning.
      const pending = ops.filter((o) => o.state === 'pending');
      const o = pending[step % Math.max(1, pending.length)];
      if (!o) continue;
      const e = o.p.effects;
      if (e.credit) expect(frozen.has(e.credit.holder), `${o.p.label} to a frozen receiver`).toBe(false);
      if (e.debit) {
        expect(bal(e.debit.holder) >= e.debit.amount, `${o.p.label} overdraws ${e.debit.holder}`).toBe(true);
        chain.set(e.debit.holder, bal(e.debit.holder) - e.debit.amount);
      }
      if (e.credit) chain.set(e.credit.holder, bal(e.credit.holder) + e.credit.amount);
      if (e.freeze) {
        if (e.freeze.frozen) frozen.add(e.freeze.holder);
        else frozen.delete(e.freeze.holder);
      }
      if (e.ledger)
        ledger.set(e.ledger.key, (ledger.get(e.ledger.key) ?? 0n) + (e.ledger.dir === 'in' ? e.ledger.amount : -e.ledger.amount));
      o.state = 'mined';
    } else {
      // The tracker sees a mined one confirmed, some time later.
      const mined = ops.filter((o) => o.state === 'mined');
      const o = mined[step % Math.max(1, mined.length)];
      if (!o) continue;
      m.confirm(o.p.effects);
      ops.splice(ops.indexOf(o), 1);
    }
  }
}

describe('soak model', () => {
  it('plans only what kagi accepts and the chain executes, in any order (and refusals kagi refuses)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 2 }),
        fc.array(fc.nat({ max: 1000 }), { minLength: 50, maxLength: 400 }),
        (seed, steps) => simulate(seed, steps),
      ),
      { numRuns: 200 },
    );
  });

  it('a read range widens with every change while the read is in flight', () => {
    const m = new TokenModel();
    const h = m.holder('0xa1');
    const w = m.watch(h);
    m.reserve({ debit: { holder: '0xa1', amount: 5n } });
    m.reserve({ credit: { holder: '0xa1', amount: 9n } });
    m.confirm({ credit: { holder: '0xa1', amount: 9n } });
    m.unwatch(h, w);
    expect([w.lo, w.hi]).toEqual([-5n, 9n]);
  });

  it('percentile is nearest-rank and slope is least squares', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99);
    expect(percentile([], 99)).toBe(0);
    expect(
      slope([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
    ).toBeCloseTo(2);
  });
});

describe('soak target', () => {
  it('refuses anything but loopback', async () => {
    const { assertLoopback } = await import('../../bench/soak-support');
    for (const ok of ['http://127.0.0.1:3000', 'http://localhost:1', 'http://[::1]:8545', 'postgres://u:p@127.0.0.1:5432/db'])
      expect(() => assertLoopback(ok, 'x')).not.toThrow();
    for (const bad of ['http://10.0.0.1:3000', 'http://192.168.1.2', 'http://example.com', 'http://0.0.0.0:3000'])
      expect(() => assertLoopback(bad, 'x')).toThrow(/refusing non-loopback/);
  });
});
