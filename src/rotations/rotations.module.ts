/** `rotations` owns rotations and rotation_steps: key rotation of a firm's or an issuer's signing key. */
import { Module } from '@nestjs/common';
import { GovernanceApiModule } from '../governance/governance-api.module';
import { IssuersModule } from '../issuers/issuers.module';
import { PlatformActionsModule } from '../platform-actions/platform-actions.module';
import { TokensModule } from '../tokens/tokens.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { RotationsController } from './rotations.controller';
import { RotationsRepository } from './rotations.repository';
import { RotationsService } from './rotations.service';

@Module({
  imports: [GovernanceApiModule, TokensModule, IssuersModule, PlatformActionsModule, TransactionsModule],
  controllers: [RotationsController],
  providers: [RotationsRepository, RotationsService],
})
export class RotationsModule {}
