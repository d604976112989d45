import { Module } from '@nestjs/common';
import { AdminsModule } from './admins/admins.module';
import { LoggerModule } from 'nestjs-pino';
import { pinoParams } from './common/logging';
import { AppConfig } from './config/app-config';
import { ApprovalsModule } from './approvals/approvals.module';
import { BatchesModule } from './batches/batches.module';
import { DistributionsModule } from './distributions/distributions.module';
import { OrdersModule } from './orders/orders.module';
import { GovernanceRoutesModule } from './governance/governance-routes.module';
import { IdempotencyModule } from './common/idempotency/idempotency.module';
import { CORE_MODULES } from './core-modules';
import { MediaModule } from './media/media.module';
import { RotationsModule } from './rotations/rotations.module';
import { PlatformActionsModule } from './platform-actions/platform-actions.module';
import { JobsModule } from './jobs/jobs.module';
import { TokensModule } from './tokens/tokens.module';
import { TransactionsModule } from './transactions/transactions.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({
  imports: [
    ...CORE_MODULES,
    LoggerModule.forRootAsync({ inject: [AppConfig], useFactory: (config: AppConfig) => pinoParams(config.logLevel) }),
    IdempotencyModule,
    JobsModule,
    TransactionsModule,
    ApprovalsModule,
    TokensModule,
    MediaModule,
    WebhooksModule,
    BatchesModule,
    DistributionsModule,
    OrdersModule,
    AdminsModule,
    PlatformActionsModule,
    GovernanceRoutesModule,
    RotationsModule,
  ],
})
export class AppModule {}
