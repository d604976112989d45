import { Module } from '@nestjs/common';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';
import { WalletIssuanceService } from './wallet-issuance.service';

@Module({
  controllers: [UsersController],
  providers: [UsersService, WalletIssuanceService],
  exports: [UsersService, WalletIssuanceService],
})
export class UsersModule {}
