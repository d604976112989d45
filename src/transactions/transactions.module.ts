import { Module } from '@nestjs/common';
import { IssuersModule } from '../issuers/issuers.module';
import { OperatorsModule } from '../operators/operators.module';
import { Idempotency } from './idempotency';
import { Pipeline } from './pipeline';
import { TokenActivation } from './token-activation';
import { TransactionsController } from './transactions.controller';
import { TransactionsService } from './transactions.service';

@Module({
  imports: [OperatorsModule, IssuersModule],
  controllers: [TransactionsController],
  providers: [TransactionsService, Idempotency, Pipeline, TokenActivation],
  exports: [TransactionsService, Idempotency, Pipeline],
})
export class TransactionsModule {}
