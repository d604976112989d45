/**
 * Nonce allocation per signer address (the `signer_nonces` table is chain's). Nonces are
 * allocated under a row lock inside the signing stage's database transaction, so concurrent
 * workers and several instances on one database never reuse or skip one; a nonce the node has
 * already used (a transaction sent outside kagi) is skipped by resynchronising upwards.
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ChainService } from './chain.service';

@Injectable()
export class Nonces {
  constructor(private readonly chain: ChainService) {}

  /** The next nonce of `address`, locked until `em` commits. */
  async allocate(em: EntityManager, address: `0x${string}`): Promise<number> {
    const onChainP = this.chain.pipeline.getTransactionCount({ address, blockTag: 'pending' }).catch(() => undefined);
    let [row] = await em.query<Array<{ next_nonce: number }>>('SELECT next_nonce FROM signer_nonces WHERE address = $1 FOR UPDATE', [
      address,
    ]);
    const onChain = await onChainP;
    if (!row) {
      await em.query('INSERT INTO signer_nonces (address, next_nonce) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING', [
        address,
        onChain ?? 0,
      ]);
      [row] = await em.query<Array<{ next_nonce: number }>>('SELECT next_nonce FROM signer_nonces WHERE address = $1 FOR UPDATE', [
        address,
      ]);
    }
    const stored = row?.next_nonce ?? 0;
    return onChain !== undefined && onChain > stored ? onChain : stored;
  }

  /** Records that nonces below `next` are taken (in the same transaction as the allocation). */
  async commit(em: EntityManager, address: `0x${string}`, next: number): Promise<void> {
    await em.query(`UPDATE signer_nonces SET next_nonce = $2 WHERE address = $1`, [address, next]);
  }

  /** The stored next nonce per address, for the signers view. */
  async nextOf(em: EntityManager, addresses: readonly string[]): Promise<Map<string, number>> {
    if (!addresses.length) return new Map();
    const rows = await em.query<Array<{ address: string; next_nonce: number }>>(
      'SELECT address, next_nonce FROM signer_nonces WHERE address = ANY($1)',
      [addresses],
    );
    return new Map(rows.map((r) => [r.address, r.next_nonce]));
  }
}
