/**
 * The signing and receipt stages' statements on the transactions table (owned by
 * `transactions`; acceptance, reads and approvals are in ../transactions.repository.ts). They
 * are set-based (one statement per round), and the status-changing ones return what changed so
 * transition hooks run in the same transaction.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { scopeSql, TRANSITION_COLUMNS } from '../transition-columns';
import type { PipelineScope } from './state';
import type { Problem, QueuedRow, SubmittedRow, Transition } from './types';

@Injectable()
export class PipelineRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  // ---- signing ------------------------------------------------------------------------

  /** Signers with due queued work that are not held. */
  async dueSigners(scope: PipelineScope = 'all'): Promise<Array<`0x${string}`>> {
    const rows = await this.ds.query<Array<{ from_address: `0x${string}` }>>(
      `SELECT DISTINCT from_address FROM transactions t WHERE status = 'queued' AND next_attempt_at <= now()
          AND NOT EXISTS (SELECT 1 FROM signer_holds h WHERE h.address = t.from_address)${scopeSql(scope)}`,
    );
    return rows.map((r) => r.from_address);
  }

  /** The per-signer advisory lock of the signing stage (another instance works on this signer while it is taken). */
  async trySignerLock(em: EntityManager, address: string): Promise<boolean> {
    const [lock] = await em.query<Array<{ ok: boolean }>>(`SELECT pg_try_advisory_xact_lock(hashtext('kagi-signer:' || $1)) AS ok`, [
      address,
    ]);
    return !!lock?.ok;
  }

  /**
   * The head of the signer's queue, due or not, locked: a row backing off holds back the rows
   * behind it (order is kept). No SKIP LOCKED: the advisory lock already keeps other workers out,
   * and skipping a row locked for a moment (a cancel) would sign the rows behind it first.
   * Nothing is returned while the signer is held.
   */
  async claimHead(em: EntityManager, address: string, limit: number, byPriority = false): Promise<QueuedRow[]> {
    return em.query<QueuedRow[]>(
      `SELECT id, kind, operator_id AS "operatorId", requested_by_type AS "requestedByType", signer_kind AS "signerKind", signer_id AS "signerId",
              from_address AS "fromAddress", to_address AS "toAddress", call_data AS "callData", call_args AS "callArgs", token_id AS "tokenId",
              user_id AS "userId", request, next_attempt_at <= now() AS due
         FROM transactions WHERE from_address = $1 AND status = 'queued'
          AND NOT EXISTS (SELECT 1 FROM signer_holds h WHERE h.address = $1)
        ORDER BY ${byPriority ? `(call_args->>'priority')::int DESC NULLS LAST, ` : ''}created_at, id LIMIT $2 FOR UPDATE`,
      [address, limit],
    );
  }

  /** The head is backing off after an outage: what queued behind it since shows the same reason. */
  async spreadHeadError(em: EntityManager, address: string, headId: string): Promise<void> {
    await em.query(
      `UPDATE transactions SET error = h.error, updated_at = now() FROM (SELECT error FROM transactions WHERE id = $2) h
        WHERE from_address = $1 AND status = 'queued' AND transactions.error IS NULL AND h.error IS NOT NULL`,
      [address, headId],
    );
  }

  async markSubmitted(
    em: EntityManager,
    signed: ReadonlyArray<{ id: string; nonce: number; hash: string; raw: string; data: string }>,
  ): Promise<Transition[]> {
    if (!signed.length) return [];
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = 'submitted', nonce = v.nonce, tx_hash = v.hash, raw_tx = v.raw, call_data = v.data, error = NULL,
              attempts = t.attempts + 1, submitted_at = now(), updated_at = now()
         FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::int[]) AS nonce, unnest($3::text[]) AS hash, unnest($4::text[]) AS raw, unnest($5::text[]) AS data) v
        WHERE t.id = v.id RETURNING ${TRANSITION_COLUMNS}`,
      [signed.map((x) => x.id), signed.map((x) => x.nonce), signed.map((x) => x.hash), signed.map((x) => x.raw), signed.map((x) => x.data)],
    );
    return rows;
  }

  /** Rows that can never be signed as they are: failed with the reason. */
  async markFailed(em: EntityManager, failures: ReadonlyArray<{ id: string } & Problem>): Promise<Transition[]> {
    if (!failures.length) return [];
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = 'failed', error = v.error, attempts = t.attempts + 1, updated_at = now()
         FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::jsonb[]) AS error) v WHERE t.id = v.id AND t.status = 'queued'
        RETURNING ${TRANSITION_COLUMNS}`,
      [failures.map((f) => f.id), failures.map((f) => JSON.stringify({ code: f.code, message: f.message }))],
    );
    return rows;
  }

  /** The row that met an outage backs off; every row behind it shows why it waits. */
  async backOff(em: EntityManager, address: string, id: string, problem: Problem): Promise<void> {
    const error = { code: problem.code, message: problem.message };
    await em.query(
      `UPDATE transactions SET error = $2, attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => LEAST(30, power(2, LEAST(attempts, 5)))), updated_at = now() WHERE id = $1`,
      [id, error],
    );
    await em.query(`UPDATE transactions SET error = $3, updated_at = now() WHERE from_address = $1 AND status = 'queued' AND id <> $2`, [
      address,
      id,
      error,
    ]);
  }

  // ---- receipts -----------------------------------------------------------------------

  submitted(limit: number, scope: PipelineScope = 'all'): Promise<SubmittedRow[]> {
    return this.ds.query<SubmittedRow[]>(
      `SELECT id, nonce, from_address, tx_hash, raw_tx, submitted_at, replaced_hashes, signer_kind, signer_id, kind, operator_id, requested_by_type
         FROM transactions t WHERE status = 'submitted'${scopeSql(scope)} ORDER BY submitted_at, id LIMIT $1`,
      [limit],
    );
  }

  /** Records final outcomes (only rows still `submitted`), returning what changed. */
  async finalize(
    em: EntityManager,
    finals: ReadonlyArray<{ id: string; status: 'confirmed' | 'failed'; block: string; hash: string; error: Problem | null }>,
  ): Promise<Transition[]> {
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = v.status, block_number = v.block, error = v.error, tx_hash = v.hash, updated_at = now()
         FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::varchar[]) AS status, unnest($3::bigint[]) AS block, unnest($4::varchar[]) AS hash, unnest($5::jsonb[]) AS error) v
        WHERE t.id = v.id AND t.status = 'submitted'
        RETURNING ${TRANSITION_COLUMNS}`,
      [
        finals.map((f) => f.id),
        finals.map((f) => f.status),
        finals.map((f) => f.block),
        finals.map((f) => f.hash),
        finals.map((f) => (f.error ? JSON.stringify(f.error) : null)),
      ],
    );
    return rows;
  }

  /** The nonce went to another transaction: signed again with a new nonce (only if still as seen). */
  async requeue(em: EntityManager, id: string, txHash: string, problem: Problem): Promise<Transition[]> {
    const [rows] = await em.query<[Transition[], number]>(
      `UPDATE transactions t SET status = 'queued', nonce = NULL, replaced_hashes = array_append(coalesce(replaced_hashes, '{}'), tx_hash), tx_hash = NULL,
              raw_tx = NULL, error = $3, next_attempt_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'submitted' AND tx_hash = $2 RETURNING ${TRANSITION_COLUMNS}`,
      [id, txHash, problem],
    );
    return rows;
  }

  /** A fee bump: the new signed bytes replace the old (kept in replaced_hashes) only if still as seen. */
  async replace(id: string, oldHash: string, hash: string, raw: string): Promise<boolean> {
    const [, n] = await this.ds.query<[unknown[], number]>(
      `UPDATE transactions SET replaced_hashes = array_append(coalesce(replaced_hashes, '{}'), tx_hash), tx_hash = $2, raw_tx = $3, attempts = attempts + 1,
              submitted_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'submitted' AND tx_hash = $4`,
      [id, hash, raw, oldHash],
    );
    return n > 0;
  }
}
