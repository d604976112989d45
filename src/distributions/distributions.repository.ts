/** The distributions table (owned by `distributions`). */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Distribution } from './entities/distribution.entity';

@Injectable()
export class DistributionsRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(em: EntityManager, d: Omit<Distribution, 'createdAt' | 'token'>): Promise<void> {
    await em.getRepository(Distribution).insert(d);
  }

  find(id: string, firm: string | null): Promise<Distribution | null> {
    return this.ds.getRepository(Distribution).findOneBy(firm ? { id, operatorId: firm } : { id });
  }
}
