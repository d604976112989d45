/**
 * The webhook outbox, as plain functions over the caller's EntityManager: every module that
 * reports an event (users, wallet issuance, custody, and later batches and key rotation)
 * writes its event row in the database transaction of the change itself, so the event
 * commits or rolls back with it. They need no DI, so the secure-room CLI (which runs no
 * webhook worker) records wallet issuance events too; the API's sequencer and dispatcher
 * deliver them.
 *
 * An event is stored only when some endpoint of its tenant subscribes to its type (one
 * INSERT … SELECT … WHERE EXISTS: a status change with no subscriber costs one index probe).
 * Never put a secret in `data`: it is stored in clear and sent to the receiver.
 */
import type { EntityManager } from 'typeorm';
import { insertSubscribedEvents } from './webhooks.repository';

export const TRANSACTION_EVENT_TYPES = [
  'transaction.pending_approval',
  'transaction.queued',
  'transaction.submitted',
  'transaction.confirmed',
  'transaction.failed',
  'transaction.cancelled',
  'transaction.rejected',
  'transaction.expired',
] as const;

export const WEBHOOK_EVENT_TYPES = [
  ...TRANSACTION_EVENT_TYPES,
  'batch.completed',
  'user.registered',
  'wallet.issued',
  'wallet.reissued',
  'rotation.completed',
  'custody.drift',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookEventInput {
  /** The firm the event belongs to; null for platform events (delivered to admins' endpoints). */
  tenant: string | null;
  type: WebhookEventType;
  data: Record<string, unknown>;
}

/** Wakes the sequencer at commit (one notification per transaction, folded by PostgreSQL). */
export const WEBHOOK_EVENTS_CHANNEL = 'kagi_webhook_events';

/** Writes the events that have a subscriber, in `em`'s transaction. Returns how many were stored. */
export async function publishWebhookEvents(em: EntityManager, events: readonly WebhookEventInput[]): Promise<number> {
  if (!events.length) return 0;
  // The insert notifies the sequencer itself (one statement; PostgreSQL delivers it at commit).
  return insertSubscribedEvents(em, events, WEBHOOK_EVENTS_CHANNEL);
}

/** `user.registered`: called by user registration inside its transaction. */
export function publishUserRegistered(
  em: EntityManager,
  u: { id: string; operatorId: string; name: string; externalRef: string | null },
): Promise<number> {
  return publishWebhookEvents(em, [
    { tenant: u.operatorId, type: 'user.registered', data: { userId: u.id, name: u.name, externalRef: u.externalRef } },
  ]);
}

/** `wallet.issued` or `wallet.reissued`: called by wallet issuance (HTTP or secure room) inside its transaction. */
export function publishWalletIssued(
  em: EntityManager,
  w: { userId: string; operatorId: string; address: string; previousAddress: string | null },
): Promise<number> {
  return publishWebhookEvents(em, [
    {
      tenant: w.operatorId,
      type: w.previousAddress ? 'wallet.reissued' : 'wallet.issued',
      data: { userId: w.userId, address: w.address, ...(w.previousAddress ? { previousAddress: w.previousAddress } : {}) },
    },
  ]);
}

/**
 * `batch.completed`: for the batches module to call in the transaction that finishes a batch
 * (`tenant` the firm, or null for a platform batch). `data` is the batch as its routes answer it.
 */
export function publishBatchCompleted(em: EntityManager, tenant: string | null, batch: Record<string, unknown>): Promise<number> {
  return publishWebhookEvents(em, [{ tenant, type: 'batch.completed', data: batch }]);
}

/**
 * `rotation.completed`: for key rotation to call in the transaction that completes it. A firm's
 * signer rotation goes to the firm (`tenant`), a platform key's to admins' endpoints (null).
 */
export function publishRotationCompleted(em: EntityManager, tenant: string | null, rotation: Record<string, unknown>): Promise<number> {
  return publishWebhookEvents(em, [{ tenant, type: 'rotation.completed', data: rotation }]);
}

/** The difference last reported per token, in this process: a drift is reported when it appears or changes, not every minute. */
const lastDrift = new Map<string, string>();

/**
 * `custody.drift`: called by custody reconciliation for every ledger it compares. Reports a
 * non-zero difference (on-chain custody balance minus the ledger) when it first appears or
 * changes; a return to 0 re-arms it. Per process: after a restart a standing drift is reported
 * once more (at least once, as every webhook).
 */
export async function reportCustodyDrift(
  inTransaction: (fn: (em: EntityManager) => Promise<unknown>) => Promise<unknown>,
  d: { tokenId: string; operatorId: string; custodyAddress: string; onChainBalance: bigint; ledgerBalance: bigint },
): Promise<void> {
  const difference = (d.onChainBalance - d.ledgerBalance).toString();
  if ((lastDrift.get(d.tokenId) ?? '0') === difference) return;
  if (difference !== '0')
    await inTransaction((em) =>
      publishWebhookEvents(em, [
        {
          tenant: d.operatorId,
          type: 'custody.drift',
          data: {
            tokenId: d.tokenId,
            custodyAddress: d.custodyAddress,
            onChainBalance: d.onChainBalance.toString(),
            ledgerBalance: d.ledgerBalance.toString(),
            difference,
          },
        },
      ]),
    );
  lastDrift.set(d.tokenId, difference);
}
