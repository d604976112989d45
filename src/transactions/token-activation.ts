/** What a final transaction changes in kagi's own state (a deployed token becomes active or failed). */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Transaction } from './entities/transaction.entity';

@Injectable()
export class TokenActivation {
  async onFinal(em: EntityManager, tx: Transaction, status: 'confirmed' | 'failed', contractAddress?: string): Promise<void> {
    if (tx.kind !== 'deploy' || !tx.tokenId) return;
    if (status === 'confirmed' && contractAddress) {
      await em.query(`UPDATE tokens SET status = 'active', address = $2 WHERE id = $1`, [tx.tokenId, contractAddress]);
    } else {
      await em.query(`UPDATE tokens SET status = 'failed' WHERE id = $1`, [tx.tokenId]);
    }
  }
}
