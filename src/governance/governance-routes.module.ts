/**
 * Governance's HTTP surface in the API: the emergency pause and unpause, the external signer's
 * proposals (and, with rotations, key rotation). It sits above tokens, operators and issuers (it pauses their tokens), so it
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
import { GovernanceModule } from './governance.module';
import { ProposalsController } from './proposals.controller';
import { ProposalsService } from './proposals.service';
import { TokenAdminCheck } from './token-admins';

@Module({
  imports: [GovernanceApiModule, GovernanceModule, TokensModule, IssuersModule, PlatformActionsModule, TransactionsModule],
  controllers: [EmergencyController, ProposalsController],
  providers: [EmergencyService, ProposalsService, TokenAdminCheck],
})
export class GovernanceRoutesModule {}
