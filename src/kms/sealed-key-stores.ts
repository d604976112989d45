/**
 * Owners of sealed keys (operators, issuers, the governance key) register a store here
 * so that `keys:rewrap --all` can walk every key still wrapped under an older master
 * key. Walking by id with "kmsKeyId != current" makes the command idempotent and
 * resumable: a re-run picks up only what is left.
 */
import { Injectable } from '@nestjs/common';
import type { KeyOwner, KeyOwnerKind, SealedKey } from './sealed-key';

export interface SealedKeyStore {
  kind: KeyOwnerKind;
  /** Up to `limit` owners whose key is not wrapped under `currentKeyId`, ids ascending after `afterId`. */
  listStale(currentKeyId: string, afterId: string | null, limit: number): Promise<Array<{ owner: KeyOwner; sealed: SealedKey; operatorId?: string | null }>>;
  /** Stores the re-wrapped columns (only the data-key columns change). */
  update(owner: KeyOwner, sealed: SealedKey): Promise<void>;
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
}
