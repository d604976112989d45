/**
 * The development governance key's row (`governance_keys`, entity still in src/tokens):
 * read here, and created once when missing, under the same advisory lock as
 * TokensService.governanceAddress(), so both paths agree on one key (the oldest row).
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { SealedKey } from '../kms/sealed-key';
import type { SigningKeys } from '../kms/signing-keys';
import { GovernanceKey } from '../tokens/entities/governance-key.entity';

export interface GovernanceKeyRow {
  id: string;
  sealed: SealedKey;
}

const LOCK = `SELECT pg_advisory_xact_lock(hashtext('kagi-governance'))`;

function rowOf(k: GovernanceKey): GovernanceKeyRow {
  return {
    id: k.id,
    sealed: { encryptedKey: k.encryptedKey, encryptedDataKey: k.encryptedDataKey, kmsKeyId: k.kmsKeyId, address: k.address },
  };
}

export class GovernanceKeys {
  constructor(
    private readonly ds: DataSource,
    private readonly keys: SigningKeys,
  ) {}

  /** The governance key (the oldest row), or undefined before one exists. */
  async find(): Promise<GovernanceKeyRow | undefined> {
    const k = await this.ds.getRepository(GovernanceKey).findOne({ where: {}, order: { createdAt: 'ASC' } });
    return k ? rowOf(k) : undefined;
  }

  /** The governance key, created and sealed first when there is none; `created` says which. */
  async ensure(): Promise<GovernanceKeyRow & { created: boolean }> {
    const existing = await this.find();
    if (existing) return { ...existing, created: false };
    const id = randomUUID();
    const { sealed } = await this.keys.create({ kind: 'governance', id });
    return this.ds.transaction(async (em) => {
      await em.query(LOCK);
      const again = await em.getRepository(GovernanceKey).findOne({ where: {}, order: { createdAt: 'ASC' } });
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
}
