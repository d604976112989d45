import { Module } from '@nestjs/common';
import { IssuersModule } from '../issuers/issuers.module';
import { OperatorsModule } from '../operators/operators.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { UsersModule } from '../users/users.module';
import { SignersController } from '../transactions/signers.controller';
import { TokensController } from './tokens.controller';
import { TokensService } from './tokens.service';

@Module({
  imports: [TransactionsModule, UsersModule, IssuersModule, OperatorsModule],
  controllers: [TokensController, SignersController],
  providers: [TokensService],
  exports: [TokensService],
})
export class TokensModule {}
