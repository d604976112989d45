/**
 * The soak's model of the tokens: what the load generator knows from kagi's own answers
 * (a transaction it saw `confirmed`), and what is still pending (sent, accepted, not final).
 * The planner only sends operations whose outcome the model can predict for certain,
 * whatever order the pending ones land in: a debit is "safe" when it fits the confirmed
 * balance even if every pending debit is counted twice (kagi's pre-check subtracts pending
 * debits from an on-chain balance that may already include them), a deliberate refusal is
 * sent only when no pending operation could make it pass, credits never go to an address
 * with a freeze or unfreeze in flight, and a freeze never races a pending credit.
 * So any `failed` transaction, refused safe operation or accepted refusal is an error.
 * Pure: no I/O, no clock.
 */
import type { Rng } from './rng';

export { rng, type Rng } from './rng';

type WriteKind = 'issue' | 'forced-transfer' | 'redeem' | 'deposit' | 'withdraw' | 'freeze' | 'unfreeze';

/** A running [lo, hi] of an amount while a read is in flight. */
export interface Watch {
  lo: bigint;
  hi: bigint;
}

interface Amounts {
  confirmed: bigint;
  pendingIn: bigint;
  pendingOut: bigint;
  watchers: Set<Watch>;
}

export interface Holder extends Amounts {
  frozen: boolean;
  freezeOpsPending: number;
  creditsPending: number;
}

/** What an operation does when it is confirmed. Amounts are base units. */
export interface Effects {
  debit?: { holder: string; amount: bigint };
  credit?: { holder: string; amount: bigint };
  mint?: bigint;
  burn?: bigint;
  ledger?: { key: string; amount: bigint; dir: 'in' | 'out' };
  freeze?: { holder: string; frozen: boolean };
}

interface LaneUser {
  id: string;
  address: string;
}

/** One (token, operator) pair: the operator's users on that token and its custody address. */
export interface Lane {
  name: string;
  tokenId: string;
  operatorId: string;
  custody: string;
  users: LaneUser[];
}

export interface Plan {
  kind: WriteKind;
  /** `issue`, `redeem:over-ask`, …: what the row in the report is called. */
  label: string;
  body: Record<string, string>;
  expect: { status: 202 } | { status: 409; code: 'ADDRESS_FROZEN' | 'INSUFFICIENT_BALANCE' };
  /** For 202: reserved as pending when planned. For a refusal: applied only if kagi accepts it anyway. */
  effects: Effects;
}

const pick = <T>(r: Rng, xs: readonly T[]): T | undefined => xs[Math.floor(r() * xs.length)];
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const big = (n: bigint) => (n < 0n ? 0n : n);

const amounts = (): Amounts => ({ confirmed: 0n, pendingIn: 0n, pendingOut: 0n, watchers: new Set() });

export class TokenModel {
  readonly holders = new Map<string, Holder>();
  readonly supply: Amounts = amounts();
  readonly ledger = new Map<string, Amounts>();

  holder(address: string): Holder {
    const k = address.toLowerCase();
    let h = this.holders.get(k);
    if (!h) this.holders.set(k, (h = { ...amounts(), frozen: false, freezeOpsPending: 0, creditsPending: 0 }));
    return h;
  }

  ledgerOf(key: string): Amounts {
    let l = this.ledger.get(key);
    if (!l) this.ledger.set(key, (l = amounts()));
    return l;
  }

  /** A debit that fits even if every pending debit is counted twice (see the header). */
  safeDebit(address: string): bigint {
    const h = this.holder(address);
    return big(h.confirmed - 2n * h.pendingOut);
  }

  /** No pending operation can make the holder's spendable balance exceed this. */
  upper(address: string): bigint {
    const h = this.holder(address);
    return h.confirmed + h.pendingIn;
  }

  definitelyUnfrozen(address: string): boolean {
    const h = this.holder(address);
    return !h.frozen && h.freezeOpsPending === 0;
  }

  definitelyFrozen(address: string): boolean {
    const h = this.holder(address);
    return h.frozen && h.freezeOpsPending === 0;
  }

  /** Sent (or accepted anyway): counted as pending until final. */
  reserve(e: Effects): void {
    this.move(e, 1n, false);
  }

  /** Refused, or ended `failed`: never happened. */
  release(e: Effects): void {
    this.move(e, -1n, false);
  }

  /** Seen `confirmed`: no longer pending, and now part of the confirmed state. */
  confirm(e: Effects): void {
    this.move(e, -1n, true);
  }

  private move(e: Effects, sign: bigint, confirmed: boolean): void {
    const touched: Amounts[] = [];
    if (e.debit) {
      const h = this.holder(e.debit.holder);
      h.pendingOut += sign * e.debit.amount;
      if (confirmed) h.confirmed -= e.debit.amount;
      touched.push(h);
    }
    if (e.credit) {
      const h = this.holder(e.credit.holder);
      h.pendingIn += sign * e.credit.amount;
      h.creditsPending += Number(sign);
      if (confirmed) h.confirmed += e.credit.amount;
      touched.push(h);
    }
    if (e.mint !== undefined) {
      this.supply.pendingIn += sign * e.mint;
      if (confirmed) this.supply.confirmed += e.mint;
      touched.push(this.supply);
    }
    if (e.burn !== undefined) {
      this.supply.pendingOut += sign * e.burn;
      if (confirmed) this.supply.confirmed -= e.burn;
      touched.push(this.supply);
    }
    if (e.ledger) {
      const l = this.ledgerOf(e.ledger.key);
      if (e.ledger.dir === 'in') l.pendingIn += sign * e.ledger.amount;
      else l.pendingOut += sign * e.ledger.amount;
      if (confirmed) l.confirmed += e.ledger.dir === 'in' ? e.ledger.amount : -e.ledger.amount;
      touched.push(l);
    }
    if (e.freeze) {
      const h = this.holder(e.freeze.holder);
      h.freezeOpsPending += Number(sign);
      if (confirmed) h.frozen = e.freeze.frozen;
    }
    for (const a of touched) for (const w of a.watchers) widen(w, a);
  }

  /** Starts a running range of what a read of `a` may see: [confirmed − pending out, confirmed + pending in]. */
  watch(a: Amounts): Watch {
    const w: Watch = { lo: a.confirmed - a.pendingOut, hi: a.confirmed + a.pendingIn };
    a.watchers.add(w);
    return w;
  }

  unwatch(a: Amounts, w: Watch): void {
    widen(w, a);
    a.watchers.delete(w);
  }
}

function widen(w: Watch, a: Amounts): void {
  const lo = a.confirmed - a.pendingOut;
  const hi = a.confirmed + a.pendingIn;
  if (lo < w.lo) w.lo = lo;
  if (hi > w.hi) w.hi = hi;
}

export const ledgerKey = (operatorId: string, userId: string) => `${operatorId}:${userId}`;

/** Relative weights of the write mix; `refusal` is split over the four deliberate refusals. */
const WRITE_WEIGHTS = {
  issue: 26,
  'forced-transfer': 20,
  redeem: 10,
  deposit: 12,
  withdraw: 12,
  freeze: 3,
  unfreeze: 4,
  refusal: 6,
} as const;
type Choice = keyof typeof WRITE_WEIGHTS;

/** At most this many frozen users per lane, so most of the mix stays possible. */
const MAX_FROZEN_PER_LANE = 2;

/** A random operation whose outcome is certain, reserved in the model; undefined when none fits now. */
export function plan(m: TokenModel, lane: Lane, r: Rng): Plan | undefined {
  const choices = Object.entries(WRITE_WEIGHTS) as Array<[Choice, number]>;
  const total = choices.reduce((s, [, w]) => s + w, 0);
  for (let attempt = 0; attempt < 6; attempt++) {
    let x = r() * total;
    let choice: Choice = 'issue';
    for (const [c, w] of choices) {
      if ((x -= w) < 0) {
        choice = c;
        break;
      }
    }
    const p = attempt === 5 ? build(m, lane, r, 'issue') : build(m, lane, r, choice);
    if (p) {
      if (p.expect.status === 202) m.reserve(p.effects);
      return p;
    }
  }
  return undefined;
}

function build(m: TokenModel, lane: Lane, r: Rng, choice: Choice): Plan | undefined {
  const users = lane.users;
  const unfrozen = users.filter((u) => m.definitelyUnfrozen(u.address));
  const frozen = users.filter((u) => m.definitelyFrozen(u.address));
  const withSafe = users.map((u) => ({ u, safe: m.safeDebit(u.address) })).filter((x) => x.safe >= 1n);
  const debitAmount = (safe: bigint) => BigInt(int(r, 1, Number(safe > 1000n ? 1000n : safe)));
  switch (choice) {
    case 'issue': {
      const u = pick(r, unfrozen);
      if (!u) return undefined;
      const amount = BigInt(int(r, 1, 1000));
      return {
        kind: 'issue',
        label: 'issue',
        body: { userId: u.id, amount: amount.toString() },
        expect: { status: 202 },
        effects: { credit: { holder: u.address, amount }, mint: amount },
      };
    }
    case 'redeem': {
      const f = pick(r, withSafe);
      if (!f) return undefined;
      const amount = debitAmount(f.safe / 2n > 0n ? f.safe / 2n : f.safe);
      return {
        kind: 'redeem',
        label: 'redeem',
        body: { userId: f.u.id, amount: amount.toString(), reason: 'soak' },
        expect: { status: 202 },
        effects: { debit: { holder: f.u.address, amount }, burn: amount },
      };
    }
    case 'forced-transfer': {
      const f = pick(r, withSafe);
      if (!f) return undefined;
      const to = pick(
        r,
        unfrozen.filter((u) => u.address.toLowerCase() !== f.u.address.toLowerCase()),
      );
      if (!to) return undefined;
      const amount = debitAmount(f.safe);
      return {
        kind: 'forced-transfer',
        label: 'forced-transfer',
        body: { fromUserId: f.u.id, toUserId: to.id, amount: amount.toString(), reason: 'soak' },
        expect: { status: 202 },
        effects: { debit: { holder: f.u.address, amount }, credit: { holder: to.address, amount } },
      };
    }
    case 'deposit': {
      const f = pick(r, withSafe);
      if (!f || !m.definitelyUnfrozen(lane.custody)) return undefined;
      const amount = debitAmount(f.safe);
      return {
        kind: 'deposit',
        label: 'deposit',
        body: { userId: f.u.id, amount: amount.toString() },
        expect: { status: 202 },
        effects: {
          debit: { holder: f.u.address, amount },
          credit: { holder: lane.custody, amount },
          ledger: { key: ledgerKey(lane.operatorId, f.u.id), amount, dir: 'in' },
        },
      };
    }
    case 'withdraw': {
      const custodySafe = m.safeDebit(lane.custody);
      const candidates = unfrozen
        .map((u) => {
          const l = m.ledgerOf(ledgerKey(lane.operatorId, u.id));
          const own = big(l.confirmed - l.pendingOut);
          return { u, safe: own < custodySafe ? own : custodySafe };
        })
        .filter((x) => x.safe >= 1n);
      const c = pick(r, candidates);
      if (!c) return undefined;
      const amount = debitAmount(c.safe);
      return {
        kind: 'withdraw',
        label: 'withdraw',
        body: { userId: c.u.id, amount: amount.toString() },
        expect: { status: 202 },
        effects: {
          debit: { holder: lane.custody, amount },
          credit: { holder: c.u.address, amount },
          ledger: { key: ledgerKey(lane.operatorId, c.u.id), amount, dir: 'out' },
        },
      };
    }
    case 'freeze': {
      if (frozen.length + users.filter((u) => m.holder(u.address).freezeOpsPending > 0).length >= MAX_FROZEN_PER_LANE) return undefined;
      const u = pick(
        r,
        unfrozen.filter((x) => m.holder(x.address).creditsPending === 0),
      );
      if (!u) return undefined;
      return {
        kind: 'freeze',
        label: 'freeze',
        body: { userId: u.id },
        expect: { status: 202 },
        effects: { freeze: { holder: u.address, frozen: true } },
      };
    }
    case 'unfreeze': {
      const u = pick(r, frozen);
      if (!u) return undefined;
      return {
        kind: 'unfreeze',
        label: 'unfreeze',
        body: { userId: u.id },
        expect: { status: 202 },
        effects: { freeze: { holder: u.address, frozen: false } },
      };
    }
    case 'refusal':
      return refusal(m, lane, r, unfrozen, frozen);
  }
}

/** One of four refusals that no pending operation could turn into an acceptance. */
function refusal(m: TokenModel, lane: Lane, r: Rng, unfrozen: LaneUser[], frozen: LaneUser[]): Plan | undefined {
  const over = (upper: bigint) => upper + 1n + BigInt(int(r, 0, 1000));
  switch (int(r, 0, 3)) {
    case 0: {
      const u = pick(r, frozen);
      if (!u) return undefined;
      const amount = BigInt(int(r, 1, 1000));
      return {
        kind: 'issue',
        label: 'issue:to-frozen',
        body: { userId: u.id, amount: amount.toString() },
        expect: { status: 409, code: 'ADDRESS_FROZEN' },
        effects: { credit: { holder: u.address, amount }, mint: amount },
      };
    }
    case 1: {
      const to = pick(r, frozen);
      const from = pick(
        r,
        lane.users.filter((u) => u.address.toLowerCase() !== to?.address.toLowerCase()),
      );
      if (!to || !from) return undefined;
      return {
        kind: 'forced-transfer',
        label: 'forced-transfer:to-frozen',
        body: { fromUserId: from.id, toUserId: to.id, amount: '1', reason: 'soak' },
        expect: { status: 409, code: 'ADDRESS_FROZEN' },
        effects: { debit: { holder: from.address, amount: 1n }, credit: { holder: to.address, amount: 1n } },
      };
    }
    case 2: {
      const u = pick(r, lane.users);
      if (!u) return undefined;
      const amount = over(m.upper(u.address));
      return {
        kind: 'redeem',
        label: 'redeem:over-ask',
        body: { userId: u.id, amount: amount.toString(), reason: 'soak' },
        expect: { status: 409, code: 'INSUFFICIENT_BALANCE' },
        effects: { debit: { holder: u.address, amount }, burn: amount },
      };
    }
    default: {
      const u = pick(r, unfrozen);
      if (!u) return undefined;
      const l = m.ledgerOf(ledgerKey(lane.operatorId, u.id));
      const amount = over(l.confirmed + l.pendingIn);
      return {
        kind: 'withdraw',
        label: 'withdraw:over-ask',
        body: { userId: u.id, amount: amount.toString() },
        expect: { status: 409, code: 'INSUFFICIENT_BALANCE' },
        effects: {
          debit: { holder: lane.custody, amount },
          credit: { holder: u.address, amount },
          ledger: { key: ledgerKey(lane.operatorId, u.id), amount, dir: 'out' },
        },
      };
    }
  }
}

/** Nearest-rank percentile (0 for no values). */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}

/** Least-squares slope of y over x (per unit of x); 0 with fewer than two points. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}
