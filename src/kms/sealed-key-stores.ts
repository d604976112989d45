/**
 * Owners of sealed keys (operators, issuers, the governance key) register a store here
 * so that `keys:rewrap --all` can walk every key still wrapped under an older master
 * key, and the signing pipeline can load a signer's sealed key without importing its owner. Walking by id with "kmsKeyId != current" makes the command idempotent and
 * resumable: a re-run picks up only what is left.
 */
import { Injectable } from '@nestjs/common';
import { MoreThan, Not, type FindOptionsOrder, type FindOptionsWhere, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { sealedKeyOf, type KeyOwner, type KeyOwnerKind, type SealedKey, type SealedKeyRow } from './sealed-key';

export interface SealedKeyStore {
  kind: KeyOwnerKind;
  /** Up to `limit` owners whose key is not wrapped under `currentKeyId`, ids ascending after `afterId`. */
  listStale(
    currentKeyId: string,
    afterId: string | null,
    limit: number,
  ): Promise<Array<{ owner: KeyOwner; sealed: SealedKey; operatorId?: string | null }>>;
  /** Stores the re-wrapped columns (only the data-key columns change). */
  update(owner: KeyOwner, sealed: SealedKey): Promise<void>;
  /** The owner's sealed key; rejects when the owner has none (e.g. destroyed). */
  load(id: string): Promise<SealedKey>;
  /** Every owner with its signing address (the signers view). */
  owners(): Promise<Array<{ id: string; address: `0x${string}` }>>;
}

@Injectable()
export class SealedKeyStores {
  private readonly stores = new Map<KeyOwnerKind, SealedKeyStore>();

  register(store: SealedKeyStore): void {
    this.stores.set(store.kind, store);
  }

  all(): SealedKeyStore[] {
    return [...this.stores.values()];
  }

  /** The sealed key of `owner`, from the store its owner module registered. */
  load(owner: KeyOwner): Promise<SealedKey> {
    const store = this.stores.get(owner.kind);
    if (!store) return Promise.reject(new Error(`no sealed-key store for ${owner.kind}`));
    return store.load(owner.id);
  }
}

/** Stores a re-wrapped data key on its owner row; the signing-key ciphertext never changes. */
export async function saveRewrapped<T extends SealedKeyRow>(repo: Repository<T>, id: string, sealed: SealedKey): Promise<void> {
  await repo.update(
    { id } as FindOptionsWhere<T>,
    { encryptedDataKey: sealed.encryptedDataKey, kmsKeyId: sealed.kmsKeyId } as unknown as QueryDeepPartialEntity<T>,
  );
}

/** The store of an owner table whose rows carry the sealed-key columns. */
export function repositoryStore<T extends SealedKeyRow>(
  kind: KeyOwnerKind,
  repo: Repository<T>,
  operatorIdOf: (row: T) => string | null = () => null,
): SealedKeyStore {
  return {
    kind,
    listStale: async (current, afterId, limit) => {
      const where = { kmsKeyId: Not(current), ...(afterId ? { id: MoreThan(afterId) } : {}) } as FindOptionsWhere<T>;
      const rows = await repo.find({ where, order: { id: 'ASC' } as FindOptionsOrder<T>, take: limit });
      return rows.map((row) => ({ owner: { kind, id: row.id }, sealed: sealedKeyOf(row), operatorId: operatorIdOf(row) }));
    },
    update: (owner, sealed) => saveRewrapped(repo, owner.id, sealed),
    load: async (id) => sealedKeyOf(await repo.findOneByOrFail({ id } as FindOptionsWhere<T>)),
    owners: async () =>
      (await repo.find({ order: { id: 'ASC' } as FindOptionsOrder<T> })).map((r) => ({ id: r.id, address: r.signerAddress })),
  };
}
