/** The tables `batches` owns (batches, batch_items): every SQL statement on them lives here. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { Batch, type BatchItem, type BatchStatus, type ItemStatus } from './entities/batch.entity';

export type Counts = Record<ItemStatus, number>;

@Injectable()
export class BatchesRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(em: EntityManager, b: Omit<Batch, 'createdAt' | 'updatedAt' | 'token'>): Promise<Date> {
    const [r] = await em.query<Array<{ created_at: Date }>>(
      `INSERT INTO batches (id, operator_id, token_id, kind, status, atomic, total, requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
       RETURNING created_at`,
      [b.id, b.operatorId, b.tokenId, b.kind, b.status, b.atomic, b.total, JSON.stringify(b.requestedBy)],
    );
    return r!.created_at;
  }

  /** Every row of a batch in one statement (≤ 10,000). */
  async insertItems(em: EntityManager, items: ReadonlyArray<Omit<BatchItem, 'batch'>>): Promise<void> {
    if (!items.length) return;
    await em.query(
      `INSERT INTO batch_items (batch_id, row, user_id, to_user_id, amount, legal_basis, instruction, status, transaction_id, error)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::uuid[], $5::numeric[], $6::jsonb[], $7::jsonb[], $8::varchar[], $9::uuid[], $10::jsonb[])`,
      [
        items.map((i) => i.batchId),
        items.map((i) => i.row),
        items.map((i) => i.userId),
        items.map((i) => i.toUserId),
        items.map((i) => i.amount),
        items.map((i) => (i.legalBasis ? JSON.stringify(i.legalBasis) : null)),
        items.map((i) => (i.instruction ? JSON.stringify(i.instruction) : null)),
        items.map((i) => i.status),
        items.map((i) => i.transactionId),
        items.map((i) => (i.error ? JSON.stringify(i.error) : null)),
      ],
    );
  }

  /** A batch visible to `firm` (null: any). */
  find(id: string, firm: string | null): Promise<Batch | null> {
    return this.ds.getRepository(Batch).findOneBy(firm ? { id, operatorId: firm } : { id });
  }

  /** A batch inside `em` (the settling transaction sees its own writes). */
  findIn(em: EntityManager, id: string): Promise<Batch | null> {
    return em.getRepository(Batch).findOneBy({ id });
  }

  async counts(id: string, em: EntityManager = this.ds.manager): Promise<Counts> {
    const rows = await em.query<Array<{ status: ItemStatus; n: number }>>(
      'SELECT status, count(*)::int AS n FROM batch_items WHERE batch_id = $1 GROUP BY status',
      [id],
    );
    const c: Counts = { invalid: 0, pending_approval: 0, queued: 0, confirmed: 0, failed: 0 };
    for (const r of rows) c[r.status] = r.n;
    return c;
  }

  /** The invalid rows' problems, in row order. */
  async problems(id: string, em: EntityManager = this.ds.manager): Promise<Array<{ row: number; error: NonNullable<BatchItem['error']> }>> {
    return em.query(`SELECT row, error FROM batch_items WHERE batch_id = $1 AND status = 'invalid' ORDER BY row`, [id]);
  }

  /** Rows after `afterRow`, in order (limit undefined: all). */
  async items(id: string, afterRow: number, limit: number | undefined): Promise<BatchItem[]> {
    const rows = await this.ds.query<Array<Record<string, unknown>>>(
      `SELECT row, user_id, to_user_id, amount::text AS amount, legal_basis, status, transaction_id, error FROM batch_items
        WHERE batch_id = $1 AND row > $2 ORDER BY row ${limit ? 'LIMIT $3' : ''}`,
      limit ? [id, afterRow, limit] : [id, afterRow],
    );
    return rows.map((r) => ({
      batchId: id,
      row: r.row as number,
      userId: r.user_id as string | null,
      toUserId: r.to_user_id as string | null,
      amount: r.amount as string | null,
      legalBasis: r.legal_basis as BatchItem['legalBasis'],
      instruction: null,
      status: r.status as ItemStatus,
      transactionId: r.transaction_id as string | null,
      error: r.error as BatchItem['error'],
    }));
  }

  /** The rows of final lots take their outcome (only rows still waiting: idempotent per transition). */
  async settleItems(
    em: EntityManager,
    finals: ReadonlyArray<{ transactionId: string; status: 'confirmed' | 'failed'; error: { code: string; message: string } | null }>,
  ): Promise<void> {
    await em.query(
      `UPDATE batch_items i SET status = v.status, error = v.error
         FROM (SELECT unnest($1::uuid[]) AS tx, unnest($2::varchar[]) AS status, unnest($3::jsonb[]) AS error) v
        WHERE i.transaction_id = v.tx AND i.status IN ('queued', 'pending_approval')`,
      [finals.map((f) => f.transactionId), finals.map((f) => f.status), finals.map((f) => (f.error ? JSON.stringify(f.error) : null))],
    );
  }

  /** Running batches with no row left waiting become completed, or partially_failed when a row failed; returns those that did. */
  async settleBatches(em: EntityManager, ids: readonly string[]): Promise<string[]> {
    const [rows] = await em.query<[Array<{ id: string }>, number]>(
      `UPDATE batches b SET status = CASE WHEN EXISTS (SELECT 1 FROM batch_items i WHERE i.batch_id = b.id AND i.status = 'failed')
                                          THEN 'partially_failed' ELSE 'completed' END, updated_at = now()
        WHERE b.id = ANY($1::uuid[]) AND b.status = 'running'
          AND NOT EXISTS (SELECT 1 FROM batch_items i WHERE i.batch_id = b.id AND i.status IN ('queued', 'pending_approval'))
        RETURNING b.id`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  // ---- approvals ------------------------------------------------------------------------

  /** The firm's batch locked for a decision: every decision on a batch goes through this lock. */
  async lock(em: EntityManager, id: string, firm: string): Promise<Batch | undefined> {
    return (
      (await em
        .getRepository(Batch)
        .createQueryBuilder('b')
        .setLock('pessimistic_write')
        .where('b.id = :id AND b.operatorId = :firm', { id, firm })
        .getOne()) ?? undefined
    );
  }

  /** A conditional state change (false: the batch was no longer `from`). */
  async setStatus(em: EntityManager, id: string, from: BatchStatus, to: BatchStatus): Promise<boolean> {
    const [, n] = await em.query<[unknown, number]>(`UPDATE batches SET status = $3, updated_at = now() WHERE id = $1 AND status = $2`, [
      id,
      from,
      to,
    ]);
    return n > 0;
  }

  /** The rows still waiting for approval, with what validating them again needs (their instruction too). */
  async waitingRows(
    batchId: string,
  ): Promise<Array<Pick<BatchItem, 'row' | 'userId' | 'toUserId' | 'amount' | 'legalBasis' | 'instruction' | 'transactionId'>>> {
    return this.ds.query(
      `SELECT row, user_id AS "userId", to_user_id AS "toUserId", amount::text AS amount, legal_basis AS "legalBasis",
              instruction, transaction_id AS "transactionId"
         FROM batch_items WHERE batch_id = $1 AND status = 'pending_approval' ORDER BY row`,
      [batchId],
    );
  }

  /** Rows refused at the last approval end `failed` with their pre-check's problem, detached from their lot (never signed). */
  async refuseItems(
    em: EntityManager,
    batchId: string,
    problems: ReadonlyArray<{ row: number; field: string; code: string; message: string }>,
  ): Promise<void> {
    await em.query(
      `UPDATE batch_items i SET status = 'failed', transaction_id = NULL, error = v.error
         FROM (SELECT unnest($2::int[]) AS row, unnest($3::jsonb[]) AS error) v
        WHERE i.batch_id = $1 AND i.row = v.row AND i.status = 'pending_approval'`,
      [batchId, problems.map((p) => p.row), problems.map((p) => JSON.stringify({ code: p.code, field: p.field, message: p.message }))],
    );
  }

  /** The rows of a released batch wait on chain now. */
  async releaseItems(em: EntityManager, batchId: string): Promise<void> {
    await em.query(`UPDATE batch_items SET status = 'queued' WHERE batch_id = $1 AND status = 'pending_approval'`, [batchId]);
  }

  /** The firm's batches waiting for approval, newest first. */
  pending(firm: string, q: PageQuery): Promise<Page<Batch>> {
    const qb = this.ds
      .getRepository(Batch)
      .createQueryBuilder('b')
      .where('b.operatorId = :firm AND b.status = :status', { firm, status: 'pending_approval' });
    return paginate(qb, q, (b) => b);
  }
}
