/**
 * A suspended staff member's, or a revoked API key's, queued and pending requests end
 * `cancelled` (error ACCOUNT_SUSPENDED, or UNAUTHENTICATED for the key) in the same database
 * transaction as the suspension or revocation, so nothing they asked for is signed afterwards.
 * (Rows already signed go on: they are on their way to the chain.) Wired here because tokens
 * sees both sides: identity (operators, auth) and the transaction queue.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ApiKeysService } from '../auth/api-keys.service';
import { StaffService, type StaffSuspensionListener } from '../operators/staff.service';
import { TransactionsService } from '../transactions/transactions.service';

@Injectable()
export class RequesterSuspension implements OnModuleInit, StaffSuspensionListener {
  constructor(
    private readonly staff: StaffService,
    private readonly apiKeys: ApiKeysService,
    private readonly transactions: TransactionsService,
  ) {}

  onModuleInit(): void {
    this.staff.onSuspension(this);
    this.apiKeys.onRevocation((em, operatorId, apiKeyId) =>
      this.transactions.cancelRequestsOf(em, operatorId, { apiKeyId }, 'UNAUTHENTICATED').then(() => undefined),
    );
  }

  async onSuspended(em: EntityManager, operatorId: string, staffId: string): Promise<void> {
    await this.transactions.cancelRequestsOf(em, operatorId, { staffId }, 'ACCOUNT_SUSPENDED');
  }
}
