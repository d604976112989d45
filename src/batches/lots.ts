/**
 * A batch's lots: how its valid rows become queued transactions (≤ 100 rows through the
 * contract's batch function; a v1 token's lot is one row), with each lot's call arguments,
 * summed amount and legal basis. Pure: used at acceptance and again at the last approval.
 */
import type { Address } from 'viem';
import type { TxKind } from '../transactions/entities/transaction.entity';
import { debits, type Judged } from './batch-rows';
import type { BatchKind, LegalBasis } from './entities/batch.entity';

export const LOT_SIZE = 100;

export const LOT_KIND: Record<BatchKind, TxKind> = {
  issue: 'batch-issue',
  redeem: 'batch-redeem',
  // An instructed transfer runs through the same agent function as the single `transfer` (forcedTransfer);
  // its rows keep their holder instruction, and the batch its kind.
  transfer: 'batch-forced-transfer',
  'forced-transfer': 'batch-forced-transfer',
  freeze: 'batch-freeze',
  unfreeze: 'batch-unfreeze',
};

/** The rows' summed amount (undefined for kinds without one, e.g. freeze). */
export function summed(rows: Judged['rows']): bigint | undefined {
  if (!rows.some((r) => r.amount !== undefined)) return undefined;
  return rows.reduce((s, r) => s + (r.amount ?? 0n), 0n);
}

/**
 * A lot's call arguments (and, for a v1 token's one-row lot, its debit) from its rows: at
 * acceptance, and again at the last approval from the rows still valid then (addresses as they are now).
 */
export function lotCall(
  kind: BatchKind,
  lot: Judged['rows'],
  perRow: boolean,
): { args: Record<string, unknown>; debitAddress: string | null; debitAmount: string | null } {
  if (perRow) {
    const r = lot[0]!;
    const debit = debits(kind) && r.from && r.amount ? { address: r.from, amount: r.amount.toString() } : undefined;
    return {
      args: { from: r.from, to: r.to, amount: r.amount?.toString() },
      debitAddress: debit?.address ?? null,
      debitAmount: debit?.amount ?? null,
    };
  }
  const owed = new Map<Address, bigint>();
  if (debits(kind)) for (const r of lot) owed.set(r.from!, (owed.get(r.from!) ?? 0n) + r.amount!);
  return {
    args: {
      rows: lot.map((r) => ({ from: r.from, to: r.to, amount: r.amount?.toString() })),
      ...(owed.size ? { debits: [...owed].map(([address, amount]) => ({ address, amount: amount.toString() })) } : {}),
    },
    debitAddress: null,
    debitAmount: null,
  };
}

export function amountOf(lot: Judged['rows']): { amount?: string } {
  const a = summed(lot);
  return a === undefined ? {} : { amount: a.toString() };
}

/**
 * A lot's legal basis: its rows' (each a row's own or the batch's one for all rows) when they agree;
 * else a pointer to the rows (each row's basis is stored with it, GET /v1/batches/{id}/items).
 */
export function lotBasis(lot: Judged['rows']): LegalBasis | null {
  const bases = lot.flatMap((r) => (r.legalBasis ? [JSON.stringify(r.legalBasis)] : []));
  if (!bases.length) return null;
  if (bases.length === lot.length && new Set(bases).size === 1) return lot[0]!.legalBasis;
  return { code: 'other', note: 'per row: see the batch items' };
}

export function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
