/**
 * Governance inside the API: the signer's identity (the token contracts' admin) and the queue
 * of governance transactions. The API signs them only with the development key
 * (GOVERNANCE_SIGNER=local); otherwise the governance process does (governance-process.ts).
 */
import { Module } from '@nestjs/common';
import { TransactionsModule } from '../transactions/transactions.module';
import { GovernanceModule } from './governance.module';
import { ProposalsRepository } from './proposals.repository';
import { GovernanceService } from './governance.service';

@Module({
  imports: [GovernanceModule, TransactionsModule],
  providers: [GovernanceService, ProposalsRepository],
  exports: [GovernanceService, ProposalsRepository],
})
export class GovernanceApiModule {}
