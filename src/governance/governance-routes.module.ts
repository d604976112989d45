/**
 * Governance's HTTP surface in the API: the emergency pause and unpause (and, with rotations,
 * key rotation). It sits above tokens, operators and issuers (it pauses their tokens), so it
 * lives here rather than in those modules, which must not import tokens.
 */
import { Module } from '@nestjs/common';
import { IssuersModule } from '../issuers/issuers.module';
import { PlatformActionsModule } from '../platform-actions/platform-actions.module';
import { TokensModule } from '../tokens/tokens.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { EmergencyController } from './emergency.controller';
import { EmergencyService } from './emergency.service';
import { GovernanceApiModule } from './governance-api.module';
import { TokenAdminCheck } from './token-admins';
import { TokenAdminsRepository } from './token-admins.repository';

@Module({
  imports: [GovernanceApiModule, TokensModule, IssuersModule, PlatformActionsModule, TransactionsModule],
  controllers: [EmergencyController],
  providers: [EmergencyService, TokenAdminCheck, TokenAdminsRepository],
})
export class GovernanceRoutesModule {}
