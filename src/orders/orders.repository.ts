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

  // ---- approvals (the order's transactions are held and read through TransactionsService) ----

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

  /** A page of the firm's orders among `ids` (those with a transaction pending approval, as TransactionsService answers). */
  async pending(firm: string, ids: readonly string[], q: PageQuery): Promise<Page<Order>> {
    const qb = this.ds
      .getRepository(Order)
      .createQueryBuilder('o')
      .where('o.operatorId = :firm', { firm })
      .andWhere('o.id = ANY(:ids::uuid[])', { ids });
    return paginate(qb, q, (o) => o);
  }
}
