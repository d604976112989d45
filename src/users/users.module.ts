import { Module } from '@nestjs/common';
import { UsersController } from './users.controller';
import { FirmsModule } from '../operators/firms.repository';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';
import { WalletIssuanceService } from './wallet-issuance.service';

@Module({
  imports: [FirmsModule],
  controllers: [UsersController],
  providers: [UsersRepository, UsersService, WalletIssuanceService],
  exports: [UsersService, WalletIssuanceService],
})
export class UsersModule {}
