/**
 * `approvals` owns the firms' approval policies and the platform floor, and decides on what
 * they hold back (approve, reject, expire). It exports ApprovalPolicy (what accepting modules
 * ask at a request), ApprovalRechecks (where they register the pre-checks of the last
 * approval), ApprovalItems (batches' and orders' expiry and listing) and WholeApprovals (the
 * decisions on a batch or an order as a whole). It imports
 * transactions, never the modules that accept requests.
 */
import { Global, Module } from '@nestjs/common';
import { PlatformActionsModule } from '../platform-actions/platform-actions.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { ApprovalItems } from './approval-items';
import { ApprovalPolicy } from './approval-policy';
import { ApprovalsController } from './approvals.controller';
import { ApprovalsService } from './approvals.service';
import { PoliciesController } from './policies.controller';
import { PoliciesRepository } from './policies.repository';
import { PoliciesService } from './policies.service';
import { ApprovalRechecks } from './rechecks';
import { WholeApprovals } from './whole-approvals';

/** Global: token operations (and batches, orders) reach ApprovalPolicy without their modules importing this one. */
@Global()
@Module({
  imports: [TransactionsModule, PlatformActionsModule],
  controllers: [ApprovalsController, PoliciesController],
  providers: [PoliciesRepository, PoliciesService, ApprovalPolicy, ApprovalsService, ApprovalRechecks, ApprovalItems, WholeApprovals],
  exports: [ApprovalPolicy, ApprovalRechecks, ApprovalItems, ApprovalsService, WholeApprovals],
})
export class ApprovalsModule {}
