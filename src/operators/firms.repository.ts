/**
 * Read-only facts about firms that other modules may show (a name on a paper wallet or in a
 * notice), from the operators module's own tables. Needs only the database, so the secure-room
 * CLI (no KMS, no chain) can use it.
 */
import { Injectable, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Operator } from './entities/operator.entity';

@Injectable()
export class FirmsRepository {
  constructor(private readonly ds: DataSource) {}

  /** How a firm is named in messages (never for authorisation). */
  async describe(operatorId: string): Promise<{ name: string; loginId: string } | undefined> {
    const o = await this.ds.getRepository(Operator).findOne({ where: { id: operatorId }, relations: { principal: true } });
    return o ? { name: o.principal.name, loginId: o.principal.loginId } : undefined;
  }
}

@Module({ providers: [FirmsRepository], exports: [FirmsRepository] })
export class FirmsModule {}
