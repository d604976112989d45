/**
 * Other things that wait for approval (batches, orders) plug in here: their expiry and their
 * listing for GET /v1/approvals, so this module never imports the modules that own them.
 * Transactions are built in (ApprovalsService).
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Page, PageQuery } from '../common/pagination';
import type { Principal } from '../common/principal';

export interface ApprovalItemType {
  /** Ends the item `expired` in `em` if it is still pending (true: it was; the caller audits it). */
  expire(em: EntityManager, id: string): Promise<boolean>;
  /** The principal's firm's items of this type that wait for approval. */
  pending(p: Principal, q: PageQuery): Promise<Page<unknown>>;
}

@Injectable()
export class ApprovalItems {
  private readonly types = new Map<'batch' | 'order', ApprovalItemType>();

  register(type: 'batch' | 'order', t: ApprovalItemType): void {
    this.types.set(type, t);
  }

  get(type: 'batch' | 'order'): ApprovalItemType | undefined {
    return this.types.get(type);
  }
}
