/**
 * A reissued wallet's old address is frozen on every active token of the firm and of the
 * issuers it is granted — a `wallet.freeze` job written in the reissue's own database
 * transaction (so a crash right after the reissue commits cannot lose it). The job queues one
 * freeze per token, requested by `system` on behalf of the firm (so neither the firm's policies
 * nor its suspension stop it) with the legal basis `lost-key`, and runs again until every freeze
 * is confirmed; a freeze that failed is requested again. No balance read decides anything.
 * Each freeze is queued on the token's *current* signing address (a key rotation between the
 * reissue and a retry changes it; the old address's queue is never signed again).
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { getAddress, type Address } from 'viem';
import { IssuersService } from '../issuers/issuers.service';
import { Jobs } from '../jobs/jobs.service';
import { OperatorsService } from '../operators/operators.service';
import { TransactionQueue } from '../transactions/queue';
import { TokensRepository } from './tokens.repository';

const WALLET_FREEZE_JOB = 'wallet.freeze';

interface FreezeJob {
  userId: string;
  operatorId: string;
  oldAddress: string;
}

@Injectable()
export class WalletFreeze implements OnModuleInit {
  constructor(
    private readonly repo: TokensRepository,
    private readonly queue: TransactionQueue,
    private readonly jobs: Jobs,
    private readonly operators: OperatorsService,
    private readonly issuers: IssuersService,
  ) {}

  onModuleInit(): void {
    this.jobs.register<FreezeJob>(WALLET_FREEZE_JOB, (job) => this.freezeEverywhere(job.payload), {
      maxAttempts: 100_000,
      backoff: { baseMs: 1000, maxMs: 60_000 },
    });
  }

  /** Queues what is missing; throws (so the job runs again) until every freeze is confirmed. */
  async freezeEverywhere(j: FreezeJob): Promise<void> {
    const old: Address = getAddress(j.oldAddress);
    const tokens = await this.repo.activeOf(j.operatorId);
    const signers = new Map<string, Address>();
    for (const t of tokens)
      if (!signers.has(t.signerId))
        signers.set(
          t.signerId,
          getAddress(
            t.signerKind === 'issuer' ? await this.issuers.signerAddressOf(t.signerId) : await this.operators.signerAddressOf(t.signerId),
          ),
        );
    let waiting = 0;
    await this.repo.transaction(async (em) => {
      for (const t of tokens) {
        const status = await this.queue.latestSystemFreeze(em, t.id, old);
        if (status === 'confirmed') continue;
        waiting++;
        if (status && !['failed', 'cancelled', 'rejected', 'expired'].includes(status)) continue;
        await this.queue.enqueue(em, randomUUID(), {
          tokenId: t.id,
          kind: 'freeze',
          principal: { type: 'system', onBehalfOf: j.operatorId },
          userId: j.userId,
          signer: { kind: t.signerKind, id: t.signerId, address: signers.get(t.signerId)! },
          to: getAddress(t.address!),
          args: { to: old },
          request: { userId: j.userId, address: old, reason: 'wallet reissued', legalBasis: { code: 'lost-key' } },
        });
      }
    });
    this.queue.wake();
    if (waiting) throw new Error(`${waiting} freeze(s) of a reissued wallet not confirmed yet`);
  }
}
