/** The issuers and issuer_grants tables (owned by `issuers`). */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository, type SelectQueryBuilder } from 'typeorm';
import { sealedKeyColumns, type SealedKey } from '../kms/sealed-key';
import { IssuerGrant } from './entities/issuer-grant.entity';
import { Issuer } from './entities/issuer.entity';

@Injectable()
export class IssuersRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  /** The issuers table as a TypeORM repository (the sealed-key store and re-wrap use it). */
  issuers(): Repository<Issuer> {
    return this.ds.getRepository(Issuer);
  }

  async insert(em: EntityManager, issuer: Omit<Issuer, 'createdAt'>): Promise<void> {
    await em.getRepository(Issuer).insert(issuer);
  }

  /** Key rotation: the issuer's new sealed key replaces the old one, in the caller's transaction. */
  async replaceKey(em: EntityManager, id: string, k: SealedKey): Promise<void> {
    await em.getRepository(Issuer).update({ id }, sealedKeyColumns(k));
  }

  find(id: string): Promise<Issuer | null> {
    return this.ds.getRepository(Issuer).findOneBy({ id });
  }

  /** Issuers visible to `firm` (null: all): those it is granted. */
  query(firm: string | null): SelectQueryBuilder<Issuer> {
    const qb = this.ds.getRepository(Issuer).createQueryBuilder('i');
    if (firm) qb.innerJoin(IssuerGrant, 'g', 'g.issuer_id = i.id AND g.operator_id = :firm', { firm });
    return qb;
  }

  isGranted(issuerId: string, operatorId: string): Promise<boolean> {
    return this.ds.getRepository(IssuerGrant).existsBy({ issuerId, operatorId });
  }

  async grant(em: EntityManager, issuerId: string, operatorId: string): Promise<void> {
    await em.query('INSERT INTO issuer_grants (issuer_id, operator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [issuerId, operatorId]);
  }

  async revoke(em: EntityManager, issuerId: string, operatorId: string): Promise<boolean> {
    const r = await em.getRepository(IssuerGrant).delete({ issuerId, operatorId });
    return !!r.affected;
  }

  /** Grantees per issuer, oldest grant first. */
  async grantsOf(ids: string[]): Promise<Map<string, string[]>> {
    const m = new Map<string, string[]>();
    if (!ids.length) return m;
    const rows = await this.ds
      .getRepository(IssuerGrant)
      .createQueryBuilder('g')
      .where('g.issuer_id IN (:...ids)', { ids })
      .orderBy('g.created_at', 'ASC')
      .getMany();
    for (const r of rows) m.set(r.issuerId, [...(m.get(r.issuerId) ?? []), r.operatorId]);
    return m;
  }
}
