/**
 * The transactions table (owned by `transactions`) and signer holds: acceptance, reads, holds
 * and approvals. The signing and receipt stages' statements are in pipeline/pipeline.repository.ts.
 * Status-changing statements return what changed so transition hooks run in the same transaction.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type SelectQueryBuilder } from 'typeorm';
import type { Problem, Transition } from './pipeline/types';
import { TRANSITION_COLUMNS } from './transition-columns';
import {
  FINAL_STATUSES,
  Transaction,
  type ApprovalGiven,
  type LegalBasis,
  type RequestedBy,
  type TxStatus,
} from './entities/transaction.entity';

/** A `pending_approval` row as approvals read it, locked. */
export interface PendingRow {
  id: string;
  kind: Transaction['kind'];
  status: TxStatus;
  tokenId: string | null;
  operatorId: string;
  requestedBy: RequestedBy | null;
  request: Record<string, unknown>;
  approvalsRequired: number;
  approvalsGiven: ApprovalGiven[];
  /** Pending longer than the approval TTL (the expiry job may not have run yet). */
  overdue: boolean;
}

export interface NewTransaction {
  id: string;
  tokenId: string | null;
  kind: Transaction['kind'];
  status: 'queued' | 'pending_approval' | 'awaiting_signature';
  operatorId: string;
  requestedByType: Transaction['requestedByType'];
  userId: string | null;
  signerKind: Transaction['signerKind'];
  signerId: string;
  fromAddress: `0x${string}`;
  toAddress: `0x${string}` | null;
  callArgs: Record<string, unknown>;
  /** Only for a row no pipeline signs (an external signer's proposal): its call as proposed. */
  callData?: string | null;
  debitAddress: string | null;
  debitAmount: string | null;
  request: Record<string, unknown>;
  requestedBy: RequestedBy;
  legalBasis: LegalBasis | null;
  approvalsRequired: number;
}

@Injectable()
export class TransactionsRepository {
  constructor(private readonly ds: DataSource) {}

  get manager(): EntityManager {
    return this.ds.manager;
  }

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  // ---- acceptance -------------------------------------------------------------------

  /** The INSERT of a new row, as one statement (the caller adds its audit event to it). */
  insertStatement(row: NewTransaction): { sql: string; params: unknown[] } {
    return {
      sql: `INSERT INTO transactions (id, token_id, kind, status, operator_id, requested_by_type, user_id, signer_kind, signer_id, from_address, to_address, call_args, debit_address, debit_amount, request,
              requested_by, legal_basis, approvals_required, call_data, attempts, next_attempt_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15::jsonb, $16::jsonb, $17::jsonb, $18, $19, 0, now()) RETURNING created_at, updated_at`,
      params: [
        row.id,
        row.tokenId,
        row.kind,
        row.status,
        row.operatorId,
        row.requestedByType,
        row.userId,
        row.signerKind,
        row.signerId,
        row.fromAddress,
        row.toAddress,
        JSON.stringify(row.callArgs),
        row.debitAddress,
        row.debitAmount,
        JSON.stringify(row.request),
        JSON.stringify(row.requestedBy),
        row.legalBasis ? JSON.stringify(row.legalBasis) : null,
        row.approvalsRequired,
        row.callData ?? null,
      ],
    };
  }

  // ---- rows that wait whole (a batch's lots, an order's operations) -----------------------

  /**
   * Before commit (nothing was signed): every transaction of an order needing approval anywhere
   * waits whole, with the largest approvals any of its operations needs, marked as the order's.
   */
  async holdForOrder(em: EntityManager, orderId: string, txIds: readonly string[], required: number): Promise<void> {
    await em.query(
      `UPDATE transactions SET status = 'pending_approval', approvals_required = $3,
              request = request || jsonb_build_object('orderId', $2::text), updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'pending_approval')`,
      [txIds, orderId, required],
    );
  }

  /** Those of `txIds` still pending approval, in id order (the first is the head that carries the approvals). */
  async pendingAmong(em: EntityManager, txIds: readonly string[]): Promise<string[]> {
    const rows = await em.query<Array<{ id: string }>>(
      `SELECT id FROM transactions WHERE id = ANY($1::uuid[]) AND status = 'pending_approval' ORDER BY id`,
      [txIds],
    );
    return rows.map((r) => r.id);
  }

  /** A batch's lots still pending approval, in id order (the first is the head that carries the approvals). */
  async pendingOfBatch(em: EntityManager, batchId: string): Promise<string[]> {
    const rows = await em.query<Array<{ id: string }>>(
      `SELECT id FROM transactions WHERE batch_id = $1 AND status = 'pending_approval' ORDER BY id`,
      [batchId],
    );
    return rows.map((r) => r.id);
  }

  /** An external signer's execution, recognised by its effect on chain: `awaiting_signature` → `confirmed` at `block`. */
  async confirmAwaiting(em: EntityManager, id: string, block: bigint): Promise<Transition[]> {
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = 'confirmed', block_number = $2, error = NULL, updated_at = now()
        WHERE id = $1 AND status = 'awaiting_signature' RETURNING ${TRANSITION_COLUMNS}`,
      [id, block.toString()],
    );
    return rows;
  }

  /** Serialises the debits of one (token, address) until `em` commits. */
  async lockDebits(em: EntityManager, tokenId: string, address: string): Promise<void> {
    await em.query(`SELECT pg_advisory_xact_lock(hashtext('kagi-debit:' || $1 || ':' || $2))`, [tokenId, address]);
  }

  /**
   * Debits of `address` not yet in its balance as of block `at`: not mined yet, or confirmed in a later block.
   * A batch lot debits several addresses: its debits are in `call_args.debits` ([{address, amount}]).
   */
  async pendingDebits(em: EntityManager, tokenId: string, address: string, at: bigint): Promise<bigint> {
    return (await this.pendingDebitsMany(em, tokenId, [address], at)).get(address) ?? 0n;
  }

  async pendingDebitsMany(em: EntityManager, tokenId: string, addresses: readonly string[], at: bigint): Promise<Map<string, bigint>> {
    const rows = await em.query<Array<{ a: string; s: string }>>(
      `SELECT a, sum(amount)::text AS s FROM (
         SELECT debit_address AS a, debit_amount AS amount FROM transactions
          WHERE token_id = $1 AND debit_address = ANY($2::varchar[]) AND status IN ('queued', 'submitted')
         UNION ALL
         SELECT debit_address, debit_amount FROM transactions
          WHERE token_id = $1 AND debit_address = ANY($2::varchar[]) AND status = 'confirmed' AND block_number > $3
         UNION ALL
         SELECT d->>'address', (d->>'amount')::numeric FROM transactions t, jsonb_array_elements(t.call_args->'debits') d
          WHERE t.token_id = $1 AND t.batch_id IS NOT NULL AND t.call_args ? 'debits' AND d->>'address' = ANY($2::varchar[])
            AND (t.status IN ('queued', 'submitted') OR (t.status = 'confirmed' AND t.block_number > $3))) x
        GROUP BY a`,
      [tokenId, addresses, at.toString()],
    );
    return new Map(rows.map((r) => [r.a, BigInt(r.s)]));
  }

  async lockDebitsMany(em: EntityManager, tokenId: string, addresses: readonly string[]): Promise<void> {
    await em.query(
      `SELECT count(pg_advisory_xact_lock(hashtext('kagi-debit:' || $1 || ':' || a))) FROM (SELECT DISTINCT unnest($2::varchar[]) AS a ORDER BY 1) s`,
      [tokenId, addresses],
    );
  }

  async errorsOf(em: EntityManager, ids: readonly string[]): Promise<Map<string, { code: string; message: string }>> {
    const rows = await em.query<Array<{ id: string; error: { code: string; message: string } | null }>>(
      'SELECT id, error FROM transactions WHERE id = ANY($1::uuid[]) AND error IS NOT NULL',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.error!]));
  }

  async assignBatch(em: EntityManager, ids: readonly string[], batchId: string): Promise<void> {
    await em.query('UPDATE transactions SET batch_id = $2 WHERE id = ANY($1::uuid[])', [ids, batchId]);
  }

  /** Withdrawals of a user's custody balance not yet final. */
  async pendingWithdrawals(em: EntityManager, tokenId: string, operatorId: string, userId: string): Promise<bigint> {
    const [r] = await em.query<Array<{ s: string | null }>>(
      `SELECT sum(debit_amount)::text AS s FROM transactions
        WHERE token_id = $1 AND operator_id = $2 AND user_id = $3 AND kind = 'withdraw' AND status IN ('queued', 'submitted')`,
      [tokenId, operatorId, userId],
    );
    return BigInt(r?.s ?? '0');
  }

  async latestSystemFreeze(em: EntityManager, tokenId: string, address: string): Promise<string | undefined> {
    const [r] = await em.query<Array<{ status: string }>>(
      `SELECT status FROM transactions WHERE token_id = $1 AND kind = 'freeze' AND requested_by_type = 'system' AND call_args->>'to' = $2
        ORDER BY created_at DESC LIMIT 1`,
      [tokenId, address],
    );
    return r?.status;
  }

  async custodyInFlight(operatorId: string): Promise<boolean> {
    const [r] = await this.ds.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM transactions WHERE operator_id = $1 AND kind IN ('deposit', 'withdraw', 'custody-migration')
          AND status IN ('pending_approval', 'queued', 'awaiting_signature', 'submitted')`,
      [operatorId],
    );
    return (r?.n ?? 0) > 0;
  }

  /** Net confirmed custody movements per user mined up to block `at` (the holder register's custody column). */
  async custodyAt(tokenId: string, at: bigint): Promise<Map<string, string>> {
    const rows = await this.ds.query<Array<{ user_id: string; s: string }>>(
      `SELECT user_id, sum(CASE kind WHEN 'deposit' THEN (request->>'amount')::numeric ELSE -(request->>'amount')::numeric END)::text AS s
         FROM transactions WHERE token_id = $1 AND status = 'confirmed' AND kind IN ('deposit', 'withdraw') AND block_number <= $2
        GROUP BY user_id`,
      [tokenId, at.toString()],
    );
    return new Map(rows.map((c) => [c.user_id, c.s]));
  }

  // ---- reading ------------------------------------------------------------------------

  findOne(id: string, operatorId: string | null): Promise<Transaction | null> {
    return this.ds.getRepository(Transaction).findOneBy(operatorId ? { id, operatorId } : { id });
  }

  query(): SelectQueryBuilder<Transaction> {
    return this.ds.getRepository(Transaction).createQueryBuilder('t');
  }

  async statusesOf(ids: readonly string[]): Promise<Map<string, TxStatus>> {
    const rows = await this.ds.query<Array<{ id: string; status: TxStatus }>>(
      'SELECT id, status FROM transactions WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.status]));
  }

  /** The rows of `ids` that are final, whole (as their answer is built). */
  finalRowsOf(ids: readonly string[]): Promise<Transition[]> {
    return this.ds.query<Transition[]>(
      `SELECT ${TRANSITION_COLUMNS} FROM transactions t WHERE t.id = ANY($1::uuid[]) AND t.status = ANY($2::varchar[])`,
      [ids, FINAL_STATUSES],
    );
  }

  /** Queue depth and oldest queued row per signer address. */
  async queueStats(): Promise<Map<string, { queued: number; oldest: Date | null }>> {
    const rows = await this.ds.query<Array<{ from_address: string; queued: number; oldest: Date | null }>>(
      `SELECT from_address, count(*)::int AS queued, min(created_at) AS oldest FROM transactions WHERE status = 'queued' GROUP BY from_address`,
    );
    return new Map(rows.map((r) => [r.from_address, { queued: r.queued, oldest: r.oldest }]));
  }

  async heldAddresses(): Promise<Set<string>> {
    const rows = await this.ds.query<Array<{ address: string }>>('SELECT address FROM signer_holds');
    return new Set(rows.map((r) => r.address));
  }

  // ---- cancel and holds -----------------------------------------------------------------

  async cancel(em: EntityManager, id: string, from: readonly TxStatus[]): Promise<Transition[]> {
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = 'cancelled', updated_at = now() WHERE id = $1 AND status = ANY($2::varchar[]) RETURNING ${TRANSITION_COLUMNS}`,
      [id, from],
    );
    return rows;
  }

  /**
   * Ends the `queued` and `pending_approval` requests of one requester of a firm — a suspended
   * staff member (also through API keys it owns) or a revoked API key — `cancelled` with `code`.
   */
  async cancelRequestsOf(
    em: EntityManager,
    operatorId: string,
    who: { staffId: string } | { apiKeyId: string },
    error: { code: string; message: string },
  ): Promise<Transition[]> {
    const [cond, id] =
      'staffId' in who
        ? [`((t.requested_by->>'type' = 'staff' AND t.requested_by->>'id' = $2) OR t.requested_by->>'ownerStaffId' = $2)`, who.staffId]
        : [`(t.requested_by->>'type' = 'api-key' AND t.requested_by->>'id' = $2)`, who.apiKeyId];
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = 'cancelled', error = $3::jsonb, updated_at = now()
        WHERE t.operator_id = $1 AND t.status IN ('queued', 'pending_approval') AND ${cond}
        RETURNING ${TRANSITION_COLUMNS}`,
      [operatorId, id, JSON.stringify(error)],
    );
    return rows;
  }

  async hold(address: string, reason: string): Promise<void> {
    await this.ds.query(
      `INSERT INTO signer_holds (address, reason) VALUES ($1, $2) ON CONFLICT (address) DO UPDATE SET reason = EXCLUDED.reason`,
      [address, reason],
    );
  }

  /** Key rotation: rows not signed yet move from the old signing address to the new one (their calls are built at signing). */
  async repoint(em: EntityManager, oldAddress: string, newAddress: string): Promise<number> {
    const [, n] = await em.query<[unknown[], number]>(
      `UPDATE transactions SET from_address = $2, updated_at = now() WHERE from_address = $1 AND status IN ('pending_approval', 'queued')`,
      [oldAddress, newAddress],
    );
    return n;
  }

  /** Rows the old key signed that are not final yet. */
  async inFlightFrom(address: string): Promise<number> {
    const [r] = await this.ds.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM transactions WHERE from_address = $1 AND status = 'submitted'`,
      [address],
    );
    return r?.n ?? 0;
  }

  async releaseIn(em: EntityManager, address: string): Promise<void> {
    await em.query('DELETE FROM signer_holds WHERE address = $1', [address]);
  }

  async release(address: string): Promise<void> {
    await this.ds.query('DELETE FROM signer_holds WHERE address = $1', [address]);
  }

  // ---- approvals ------------------------------------------------------------------------

  /** Serialises the policy windows of one (firm, token) until `em` commits. */
  async lockWindow(em: EntityManager, operatorId: string, tokenId: string): Promise<void> {
    await em.query(`SELECT pg_advisory_xact_lock(hashtext('kagi-window:' || $1 || ':' || $2))`, [operatorId, tokenId]);
  }

  /** The firm's accepted and pending requests of `kinds` on the token in the last `seconds` (cancelled, rejected, expired, failed aside). */
  async windowSum(em: EntityManager, operatorId: string, tokenId: string, kinds: readonly string[], seconds: number): Promise<bigint> {
    const [r] = await em.query<Array<{ s: string | null }>>(
      `SELECT sum((request->>'amount')::numeric)::text AS s FROM transactions
        WHERE operator_id = $1 AND token_id = $2 AND kind = ANY($3::varchar[]) AND created_at > now() - make_interval(secs => $4)
          AND status IN ('pending_approval', 'queued', 'awaiting_signature', 'submitted', 'confirmed') AND request ? 'amount'`,
      [operatorId, tokenId, kinds, seconds],
    );
    return BigInt(r?.s ?? '0');
  }

  /** The row, locked (any status: the caller tells NOT_PENDING from unknown); undefined when unknown or foreign. */
  async lockForApproval(em: EntityManager, id: string, operatorId: string, ttlSeconds: number): Promise<PendingRow | undefined> {
    const [r] = await em.query<PendingRow[]>(
      `SELECT id, kind, status, token_id AS "tokenId", operator_id AS "operatorId", requested_by AS "requestedBy", request,
              approvals_required AS "approvalsRequired", approvals_given AS "approvalsGiven",
              created_at <= now() - make_interval(secs => $3) AS overdue
         FROM transactions WHERE id = $1 AND operator_id = $2 FOR UPDATE`,
      [id, operatorId, ttlSeconds],
    );
    return r;
  }

  async recordApprovals(em: EntityManager, id: string, given: readonly ApprovalGiven[]): Promise<void> {
    await em.query(`UPDATE transactions SET approvals_given = $2::jsonb, updated_at = now() WHERE id = $1`, [id, JSON.stringify(given)]);
  }

  /** The last approval: the row joins its signer's queue with the call arguments and debit as re-checked now. */
  async releaseApproved(
    em: EntityManager,
    id: string,
    given: readonly ApprovalGiven[],
    call: { args: Record<string, unknown>; debitAddress: string | null; debitAmount: string | null },
  ): Promise<Transition[]> {
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = 'queued', approvals_given = $2::jsonb, call_args = $3::jsonb, debit_address = $4, debit_amount = $5,
              next_attempt_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'pending_approval' RETURNING ${TRANSITION_COLUMNS}`,
      [id, JSON.stringify(given), JSON.stringify(call.args), call.debitAddress, call.debitAmount],
    );
    return rows;
  }

  /** Ends a pending row: failed (pre-check at the last approval), rejected or expired. */
  async endPending(
    em: EntityManager,
    id: string,
    status: 'failed' | 'rejected' | 'expired',
    error: Problem | null,
    given?: readonly ApprovalGiven[],
  ): Promise<Transition[]> {
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = $2, error = $3::jsonb, approvals_given = coalesce($4::jsonb, approvals_given), updated_at = now()
        WHERE id = $1 AND status = 'pending_approval' RETURNING ${TRANSITION_COLUMNS}`,
      [id, status, error ? JSON.stringify(error) : null, given ? JSON.stringify(given) : null],
    );
    return rows;
  }
}
