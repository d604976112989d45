/**
 * `distributions` owns distributions: entitlements computed from the chain's Transfer events at a
 * record block. It reads tokens, users, operators (custody address) and the queue's custody
 * history; it queues nothing.
 */
import { Module } from '@nestjs/common';
import { OperatorsModule } from '../operators/operators.module';
import { TokensModule } from '../tokens/tokens.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { UsersModule } from '../users/users.module';
import { DistributionsController } from './distributions.controller';
import { DistributionsRepository } from './distributions.repository';
import { DistributionsService } from './distributions.service';

@Module({
  imports: [TokensModule, TransactionsModule, UsersModule, OperatorsModule],
  controllers: [DistributionsController],
  providers: [DistributionsRepository, DistributionsService],
})
export class DistributionsModule {}
