/**
 * `batches` owns batches and batch_items: bulk requests on one token, their rows, and the lots
 * they run as queued transactions. It depends on tokens (the token and its reads), users (the
 * rows' users) and transactions (the queue and its hooks); nothing depends on it.
 */
import { Module } from '@nestjs/common';
import { TokenReads } from '../tokens/token-reads';
import { TokensModule } from '../tokens/tokens.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { UsersModule } from '../users/users.module';
import { BatchApprovals } from './batch-approvals';
import { BatchesController } from './batches.controller';
import { BatchesRepository } from './batches.repository';
import { BatchesService } from './batches.service';

@Module({
  imports: [TokensModule, TransactionsModule, UsersModule],
  controllers: [BatchesController],
  // TokenReads is stateless over the global ChainService: its own instance here, rather than widening tokens' exports.
  providers: [BatchesRepository, BatchesService, BatchApprovals, TokenReads],
})
export class BatchesModule {}
