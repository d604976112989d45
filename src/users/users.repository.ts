/** The users table (owned by `users`): investors, scoped to their firm. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type SelectQueryBuilder } from 'typeorm';
import { User } from './entities/user.entity';

@Injectable()
export class UsersRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  async insert(em: EntityManager, user: Omit<User, 'createdAt'>): Promise<void> {
    await em.getRepository(User).insert(user);
  }

  async update(em: EntityManager, id: string, firm: string, changes: Partial<User>): Promise<boolean> {
    if (!Object.keys(changes).length) return !!(await em.getRepository(User).findOneBy({ id, operatorId: firm }));
    const r = await em.getRepository(User).update({ id, operatorId: firm }, changes);
    return !!r.affected;
  }

  lookup(firm: string, ids: readonly string[], refs: readonly string[]): Promise<User[]> {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    return this.query(firm)
      .andWhere('(u.id = ANY(:ids::uuid[]) OR u.external_ref = ANY(:refs::varchar[]))', {
        ids: ids.filter((i) => uuid.test(i)),
        refs,
      })
      .getMany();
  }

  /** Every user with a wallet, with its register fields, oldest first. */
  registered(firm: string | null): Promise<User[]> {
    return this.query(firm).andWhere('u.wallet_address IS NOT NULL').orderBy('u.created_at').addOrderBy('u.id').getMany();
  }

  byIds(firm: string | null, ids: readonly string[]): Promise<User[]> {
    return this.query(firm).andWhere('u.id = ANY(:ids::uuid[])', { ids }).getMany();
  }

  /** A user visible to `firm` (null: any). */
  find(id: string, firm: string | null): Promise<User | null> {
    return this.ds.getRepository(User).findOneBy(firm ? { id, operatorId: firm } : { id });
  }

  query(firm: string | null): SelectQueryBuilder<User> {
    const qb = this.ds.getRepository(User).createQueryBuilder('u');
    if (firm) qb.andWhere('u.operator_id = :firm', { firm });
    return qb;
  }

  /** Commits a wallet address; only if the user still has `old` (null: none), so of two issuances exactly one wins. */
  async setWallet(em: EntityManager, id: string, address: string, old: string | null): Promise<boolean> {
    const r = await em
      .createQueryBuilder()
      .update(User)
      .set({
        walletAddress: address as `0x${string}`,
        walletIssuedAt: () => 'now()',
        previousWalletAddresses: () => (old ? 'array_append(previous_wallet_addresses, wallet_address)' : 'previous_wallet_addresses'),
      })
      .where('id = :id', { id })
      .andWhere(old ? 'wallet_address = :old' : 'wallet_address IS NULL', { old })
      .execute();
    return !!r.affected;
  }

  /** Users with a wallet, oldest first (the holder register). */
  async withWallets(firm: string | null): Promise<Array<{ id: string; walletAddress: `0x${string}` }>> {
    const rows = await this.query(firm)
      .select(['u.id', 'u.walletAddress'])
      .andWhere('u.wallet_address IS NOT NULL')
      .orderBy('u.created_at')
      .addOrderBy('u.id')
      .getMany();
    return rows.flatMap((u) => (u.walletAddress ? [{ id: u.id, walletAddress: u.walletAddress }] : []));
  }
}
