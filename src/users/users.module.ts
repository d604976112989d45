import { Module } from '@nestjs/common';
import { UsersController } from './users.controller';
import { OperatorsModule } from '../operators/operators.module';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';
import { WalletIssuanceService } from './wallet-issuance.service';

@Module({
  imports: [OperatorsModule],
  controllers: [UsersController],
  providers: [UsersRepository, UsersService, WalletIssuanceService],
  exports: [UsersService, WalletIssuanceService],
})
export class UsersModule {}
