/**
 * The `governance_keys` table (owned by src/governance): the sealed development governance key
 * (GOVERNANCE_SIGNER=local). One key is the oldest row; it is created once under an advisory
 * lock, so concurrent first calls agree on it.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, MoreThan, Not } from 'typeorm';
import type { SealedKey } from '../kms/sealed-key';
import { GovernanceKey } from './entities/governance-key.entity';

export interface GovernanceKeyRow {
  id: string;
  sealed: SealedKey;
}

const LOCK = `SELECT pg_advisory_xact_lock(hashtext('kagi-governance'))`;
const OLDEST = { where: {}, order: { createdAt: 'ASC' as const } };

function rowOf(k: GovernanceKey): GovernanceKeyRow {
  return {
    id: k.id,
    sealed: { encryptedKey: k.encryptedKey, encryptedDataKey: k.encryptedDataKey, kmsKeyId: k.kmsKeyId, address: k.address },
  };
}

@Injectable()
export class GovernanceKeysRepository {
  constructor(private readonly ds: DataSource) {}

  /** The governance key (the oldest row), or undefined before one exists. */
  async oldest(): Promise<GovernanceKeyRow | undefined> {
    const k = await this.ds.getRepository(GovernanceKey).findOne(OLDEST);
    return k ? rowOf(k) : undefined;
  }

  /** Stores `sealed` as the key unless one exists by then; answers the key that holds. */
  insertUnlessPresent(id: string, sealed: SealedKey): Promise<GovernanceKeyRow & { created: boolean }> {
    return this.ds.transaction(async (em) => {
      await em.query(LOCK);
      const again = await em.getRepository(GovernanceKey).findOne(OLDEST);
      if (again) return { ...rowOf(again), created: false };
      await em.getRepository(GovernanceKey).insert({
        id,
        address: sealed.address,
        encryptedKey: sealed.encryptedKey,
        encryptedDataKey: sealed.encryptedDataKey,
        kmsKeyId: sealed.kmsKeyId,
      });
      return { id, sealed, created: true };
    });
  }

  async byId(id: string): Promise<GovernanceKeyRow> {
    return rowOf(await this.ds.getRepository(GovernanceKey).findOneByOrFail({ id }));
  }

  /** Keys sealed under another master key than `current`, by id after `afterId` (keys:rewrap). */
  async sealedUnder(current: string, afterId: string | null | undefined, limit: number): Promise<GovernanceKeyRow[]> {
    const rows = await this.ds.getRepository(GovernanceKey).find({
      where: { kmsKeyId: Not(current), ...(afterId ? { id: MoreThan(afterId) } : {}) },
      order: { id: 'ASC' },
      take: limit,
    });
    return rows.map(rowOf);
  }

  async rewrapped(id: string, sealed: Pick<SealedKey, 'encryptedDataKey' | 'kmsKeyId'>): Promise<void> {
    await this.ds.getRepository(GovernanceKey).update({ id }, { encryptedDataKey: sealed.encryptedDataKey, kmsKeyId: sealed.kmsKeyId });
  }
}
