/** The orders table (owned by `orders`). */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
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
}
