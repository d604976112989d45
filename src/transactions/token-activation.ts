/**
 * What a final transaction changes in kagi's own state, inside the database transaction
 * that records it as final: a deployed token becomes active (or failed), and confirmed
 * deposits and withdrawals move the investor's custody balance.
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Transaction } from './entities/transaction.entity';

@Injectable()
export class TokenActivation {
  /** Only deploys, deposits and withdrawals change kagi's state when they become final. */
  static concerns(kind: Transaction['kind']): boolean {
    return kind === 'deploy' || kind === 'deposit' || kind === 'withdraw';
  }

  async onFinal(
    em: EntityManager,
    tx: Pick<Transaction, 'kind' | 'tokenId' | 'userId' | 'operatorId' | 'request'>,
    status: 'confirmed' | 'failed',
    contractAddress?: string,
  ): Promise<void> {
    if (tx.kind === 'deploy' && tx.tokenId) {
      if (status === 'confirmed' && contractAddress)
        await em.query(`UPDATE tokens SET status = 'active', address = $2 WHERE id = $1`, [tx.tokenId, contractAddress]);
      else await em.query(`UPDATE tokens SET status = 'failed' WHERE id = $1`, [tx.tokenId]);
      return;
    }
    if (status !== 'confirmed' || !tx.tokenId || !tx.userId || (tx.kind !== 'deposit' && tx.kind !== 'withdraw')) return;
    const amount = String(tx.request.amount);
    const delta = tx.kind === 'deposit' ? amount : `-${amount}`;
    await em.query(
      `INSERT INTO custody_entries (token_id, operator_id, user_id, amount) VALUES ($1, $2, $3, $4::numeric)
       ON CONFLICT (token_id, operator_id, user_id) DO UPDATE SET amount = custody_entries.amount + EXCLUDED.amount`,
      [tx.tokenId, tx.operatorId, tx.userId, delta],
    );
  }
}
