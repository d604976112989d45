/** The orders table (owned by `orders`). */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { Order } from './entities/order.entity';

@Injectable()
export class OrdersRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(em: EntityManager, o: Omit<Order, 'createdAt'>): Promise<void> {
    await em.getRepository(Order).insert(o);
  }

  find(id: string, firm: string | null): Promise<Order | null> {
    return this.ds.getRepository(Order).findOneBy(firm ? { id, operatorId: firm } : { id });
  }

  // ---- approvals ------------------------------------------------------------------------
  // The order's transactions are read and held here in its accepting or deciding database
  // transaction (TODO(lead): these two statements on transactions belong in TransactionsRepository).

  /** The firm's order locked for a decision: every decision on an order goes through this lock. */
  async lock(em: EntityManager, id: string, firm: string): Promise<Order | undefined> {
    return (
      (await em
        .getRepository(Order)
        .createQueryBuilder('o')
        .setLock('pessimistic_write')
        .where('o.id = :id AND o.operatorId = :firm', { id, firm })
        .getOne()) ?? undefined
    );
  }

  /**
   * Before commit (nothing was signed): every transaction of an order needing approval anywhere
   * waits whole, with the largest approvals any of its operations needs, marked as the order's.
   */
  async hold(em: EntityManager, orderId: string, txIds: readonly string[], required: number): Promise<void> {
    await em.query(
      `UPDATE transactions SET status = 'pending_approval', approvals_required = $3,
              request = request || jsonb_build_object('orderId', $2::text), updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'pending_approval')`,
      [txIds, orderId, required],
    );
  }

  /** The order's transactions still pending approval, in id order (the first is the head that carries the approvals). */
  async pendingIds(em: EntityManager, txIds: readonly string[]): Promise<string[]> {
    const rows = await em.query<Array<{ id: string }>>(
      `SELECT id FROM transactions WHERE id = ANY($1::uuid[]) AND status = 'pending_approval' ORDER BY id`,
      [txIds],
    );
    return rows.map((r) => r.id);
  }

  async pending(firm: string, q: PageQuery): Promise<Page<Order>> {
    const qb = this.ds
      .getRepository(Order)
      .createQueryBuilder('o')
      .where('o.operatorId = :firm', { firm })
      .andWhere(`EXISTS (SELECT 1 FROM transactions t WHERE t.id = ANY(o.transaction_ids) AND t.status = 'pending_approval')`);
    return paginate(qb, q, (o) => o);
  }
}
