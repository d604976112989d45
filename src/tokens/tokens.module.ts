/**
 * `tokens` owns the token registry (tokens), the custody ledger (custody_entries), the
 * development governance key, and the operation catalogue (who may do what, pre-checks,
 * calldata). It requests chain work through the transaction queue and plugs its rules into the
 * queue's hooks (the call built at signing, finality handlers).
 */
import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { GovernanceApiModule } from '../governance/governance-api.module';
import { IssuersModule } from '../issuers/issuers.module';
import { OperatorsModule } from '../operators/operators.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { UsersModule } from '../users/users.module';
import { ContractUpgrade } from './contract-upgrade';
import { RequesterSuspension } from './requester-suspension';
import { CustodyLedger } from './custody-ledger';
import { OperationsController } from './operations/operations.controller';
import { TokenOperations } from './operations/operations.service';
import { TokenReads } from './token-reads';
import { TokensController } from './tokens.controller';
import { TokensRepository } from './tokens.repository';
import { TokensService } from './tokens.service';
import { WalletFreeze } from './wallet-freeze';

@Module({
  imports: [TransactionsModule, UsersModule, IssuersModule, OperatorsModule, AuthModule, GovernanceApiModule],
  controllers: [TokensController, OperationsController],
  providers: [
    TokensRepository,
    TokensService,
    TokenReads,
    TokenOperations,
    CustodyLedger,
    WalletFreeze,
    ContractUpgrade,
    RequesterSuspension,
  ],
  // TokensRepository: database-only reads for governance (the tokens whose admin it checks).
  exports: [TokensService, TokenOperations, TokensRepository],
})
export class TokensModule {}
