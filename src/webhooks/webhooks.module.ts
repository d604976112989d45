/**
 * Signed webhooks (Standard Webhooks): endpoints and their sealed secrets, the outbox
 * sequencer, and the dispatcher that delivers at least once, in order per endpoint, under the
 * outbound safety rules of outbound.ts. Other modules report events through the functions of
 * webhook-events.ts inside their own transactions; this module never writes their tables.
 * It must never log, store in clear or put in an error a webhook secret.
 */
import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { TransactionsModule } from '../transactions/transactions.module';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookSequencer } from './webhook-sequencer';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

@Module({
  imports: [TransactionsModule, NotificationsModule],
  controllers: [WebhooksController],
  providers: [WebhooksRepository, WebhookSecrets, WebhookSequencer, WebhookDispatcher, WebhooksService],
})
export class WebhooksModule {}
