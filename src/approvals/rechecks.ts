/**
 * Pre-checks again at the last approval: the modules that accept requests (token operations;
 * batches and orders next) register how to re-check a pending row of their kinds, so this
 * module never imports them. A re-check reads the chain outside any database transaction.
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { PendingRow } from '../transactions/transactions.service';

export interface Recheck {
  /** The call's arguments as they are now (a wallet reissued since the request is respected). */
  args: Record<string, unknown>;
  debit?: { address: string; amount: bigint };
  /** In the decision's transaction, under the debit lock: throws the pre-check's AppError when it no longer holds. */
  confirm(em: EntityManager): Promise<void>;
}

/** Throws the pre-check's AppError (4xx: the request became impossible; 503: the chain cannot be read). */
export type Rechecker = (row: PendingRow) => Promise<Recheck>;

@Injectable()
export class ApprovalRechecks {
  private readonly byKind = new Map<string, Rechecker>();

  register(kinds: readonly string[], recheck: Rechecker): void {
    for (const k of kinds) this.byKind.set(k, recheck);
  }

  run(row: PendingRow): Promise<Recheck> {
    const r = this.byKind.get(row.kind);
    if (!r) throw new Error(`no approval re-check registered for ${row.kind}`);
    return r(row);
  }
}
