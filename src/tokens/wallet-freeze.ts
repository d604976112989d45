/**
 * A reissued wallet: the old address is frozen on every active token of the firm and of the
 * issuers it is granted, requested by `system` on behalf of the firm.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Address } from 'viem';
import type { Principal } from '../auth/principal';
import { TransactionQueue } from '../transactions/queue';
import { WalletIssuanceService } from '../users/wallet-issuance.service';
import { TokenReads } from './token-reads';
import { TokensRepository } from './tokens.repository';

@Injectable()
export class WalletFreeze implements OnModuleInit {
  constructor(
    private readonly repo: TokensRepository,
    private readonly reads: TokenReads,
    private readonly queue: TransactionQueue,
    private readonly wallets: WalletIssuanceService,
  ) {}

  onModuleInit(): void {
    this.wallets.setListener({ onWalletReissued: (e) => this.onWalletReissued(e) });
  }

  /** Queues a freeze of the old address on every active token where it holds a balance. */
  async onWalletReissued(e: { userId: string; operatorId: string; oldAddress: Address }): Promise<void> {
    const p: Principal = { type: 'operator', id: e.operatorId, loginId: '' };
    for (const t of await this.repo.activeOf(e.operatorId)) {
      const bal = await this.reads.balanceOf(t.address!, e.oldAddress).catch(() => 0n);
      const frozen = await this.reads.isFrozen(t.address!, e.oldAddress).catch(() => true);
      if (bal === 0n || frozen) continue;
      await this.repo.transaction((em) =>
        this.queue.enqueue(em, randomUUID(), {
          tokenId: t.id,
          kind: 'freeze',
          principal: p,
          userId: e.userId,
          signer: { kind: t.signerKind, id: t.signerId, address: t.signerAddress },
          to: t.address,
          args: { to: e.oldAddress },
          request: { userId: e.userId, address: e.oldAddress, reason: 'wallet reissued' },
        }),
      );
    }
    this.queue.wake();
  }
}
