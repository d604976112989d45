/**
 * `transactions` owns the transactions table, signer holds, the queue API, the signing pipeline
 * and the signers view; it announces status changes and finality through its hooks. It imports
 * no feature module: tokens (and later batches, governance) depend on it, not the other way round.
 */
import { Module } from '@nestjs/common';
import { AuditAnchorQueue } from './audit-anchor-queue';
import { TransactionHooks } from './hooks';
import { Broadcasting } from './pipeline/broadcasting';
import { Pipeline } from './pipeline/pipeline';
import { Receipts } from './pipeline/receipts';
import { Recovery } from './pipeline/recovery';
import { Signing } from './pipeline/signing';
import { PipelineState } from './pipeline/state';
import { FinalityWaiters } from './pipeline/waiters';
import { TransactionQueue } from './queue';
import { SignersController } from './signers.controller';
import { EnvelopeTransactionSigner, TransactionSigner } from './transaction-signer';
import { TransactionsController } from './transactions.controller';
import { PipelineRepository } from './pipeline/pipeline.repository';
import { TransactionsRepository } from './transactions.repository';
import { TransactionsService } from './transactions.service';

@Module({
  controllers: [TransactionsController, SignersController],
  providers: [
    TransactionsRepository,
    PipelineRepository,
    TransactionsService,
    TransactionQueue,
    TransactionHooks,
    { provide: TransactionSigner, useClass: EnvelopeTransactionSigner },
    PipelineState,
    Signing,
    Broadcasting,
    Receipts,
    Recovery,
    FinalityWaiters,
    Pipeline,
    AuditAnchorQueue,
  ],
  exports: [TransactionsService, TransactionQueue, TransactionHooks],
})
export class TransactionsModule {}
