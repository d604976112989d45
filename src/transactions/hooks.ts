/**
 * The seams other modules plug into the transaction queue, without `transactions` importing
 * them (dependencies point tokens → transactions):
 * - the CallBuilder builds each row's call when it is signed, from the stored request and
 *   arguments, and re-checks that the requester may still sign (tokens owns these rules);
 * - finality handlers run inside the receipt stage's database transaction (same entity
 *   manager, idempotent), so kagi's state and a confirmation commit together;
 * - transition hooks run inside the database transaction of every status change (an outbox
 *   row written there commits or rolls back with the change: webhooks).
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Hex } from 'viem';
import type { Problem, QueuedRow, Transition } from './pipeline/types';

export type BuiltCall = { to: `0x${string}` | null; data: Hex } | ({ failed: true } & Problem);

export interface CallBuilder {
  /** One answer per row, in order: the call to sign now, or why the row can never be signed. */
  build(rows: readonly QueuedRow[]): Promise<BuiltCall[]>;
}

export type TransitionHandler = (em: EntityManager, changed: readonly Transition[]) => Promise<void>;

@Injectable()
export class TransactionHooks {
  private builder: CallBuilder | undefined;
  /** Builders of the rows of other signer kinds (`governance`, `audit-anchor`): their calls are not the token catalogue's. */
  private readonly kindBuilders = new Map<QueuedRow['signerKind'], CallBuilder>();
  private readonly finality: TransitionHandler[] = [];
  private readonly transitions: TransitionHandler[] = [];

  setCallBuilder(builder: CallBuilder): void {
    this.builder = builder;
  }

  setGovernanceCallBuilder(builder: CallBuilder): void {
    this.setCallBuilderFor('governance', builder);
  }

  /** Builds the rows of one signer kind (a module's own transactions: governance, the audit anchor). */
  setCallBuilderFor(signerKind: QueuedRow['signerKind'], builder: CallBuilder): void {
    this.kindBuilders.set(signerKind, builder);
  }

  /** Called with the rows that became `confirmed` or `failed` after being submitted or queued. */
  onFinal(handler: TransitionHandler): void {
    this.finality.push(handler);
  }

  /** Called with every status change (queued, submitted, confirmed, failed, cancelled, …). */
  onTransition(handler: TransitionHandler): void {
    this.transitions.push(handler);
  }

  async build(rows: readonly QueuedRow[]): Promise<BuiltCall[]> {
    const legacy = (r: QueuedRow): BuiltCall | undefined => (r.callData ? { to: r.toAddress, data: r.callData } : undefined);
    if (rows.every((r) => r.callData)) return rows.map((r) => legacy(r)!);
    // Rows grouped by builder: their signer kind's own, else the token catalogue's.
    const groups = new Map<CallBuilder, QueuedRow[]>();
    for (const r of rows) {
      if (r.callData) continue;
      const builder =
        this.kindBuilders.get(r.signerKind) ?? (r.signerKind === 'operator' || r.signerKind === 'issuer' ? this.builder : undefined);
      if (!builder) throw new Error(`no CallBuilder registered for signer kind ${r.signerKind}`);
      groups.set(builder, [...(groups.get(builder) ?? []), r]);
    }
    const built = await Promise.all([...groups].map(async ([b, group]) => ({ group, calls: await b.build(group) })));
    const byId = new Map<string, BuiltCall>(built.flatMap(({ group, calls }) => group.map((r, i) => [r.id, calls[i]!] as const)));
    return rows.map((r) => legacy(r) ?? byId.get(r.id)!);
  }

  /** Runs in `em`: finality handlers for final rows, then transition hooks for all. */
  async changed(em: EntityManager, changed: readonly Transition[]): Promise<void> {
    if (!changed.length) return;
    const final = changed.filter((t) => t.status === 'confirmed' || t.status === 'failed');
    if (final.length) for (const h of this.finality) await h(em, final);
    for (const h of this.transitions) await h(em, changed);
  }
}
