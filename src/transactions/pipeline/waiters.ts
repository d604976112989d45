/**
 * `Prefer: wait` without polling per request: waiting requests register here; whatever makes
 * transactions final (a receipt round, a signing round that failed rows, a cancel) wakes them
 * at its commit, and one query per wake answers every waiter at once (with the final rows, which
 * the waiting requests answer). Across instances
 * the wake travels as one PostgreSQL NOTIFY per committing round (never one per row: a NOTIFY
 * serialises commits); a slow safety poll covers a lost notification.
 */

/** The channel a round that made transactions final notifies at its commit. */
const FINAL_CHANNEL = 'kagi_tx_final';
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { Notifier } from '../../database/notifier';
import { toTxDto, type TransactionResponse } from '../dto/transaction.response';
import { TransactionsRepository } from '../transactions.repository';

const SAFETY_POLL_MS = 1_000;

type Resolve = (final: TransactionResponse | undefined) => void;

@Injectable()
export class FinalityWaiters implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly waiting = new Map<string, Set<Resolve>>();
  private checking: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private listening: { close: () => void } | undefined;

  constructor(
    private readonly repo: TransactionsRepository,
    private readonly notifier: Notifier,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.offline) this.listening = this.notifier.listen(FINAL_CHANNEL, () => this.wake());
  }

  onModuleDestroy(): void {
    this.listening?.close();
  }

  /** Inside the transaction that made rows final: every instance's waiters are woken at its commit. */
  announce(em: EntityManager): Promise<void> {
    return this.notifier.notify(em, FINAL_CHANNEL);
  }

  /**
   * The Transaction once `id` is final, undefined after `seconds`. The waiter is registered
   * first and then checked with everyone else waiting (one query for all of them), so a row
   * that became final just before cannot be missed.
   */
  wait(id: string, seconds: number): Promise<TransactionResponse | undefined> {
    return new Promise((resolve) => {
      const set = this.waiting.get(id) ?? new Set();
      this.waiting.set(id, set);
      const done: Resolve = (final) => {
        clearTimeout(timeout);
        set.delete(done);
        if (!set.size && this.waiting.get(id) === set) this.waiting.delete(id);
        resolve(final);
      };
      const timeout = setTimeout(() => done(undefined), seconds * 1000);
      set.add(done);
      this.wake();
    });
  }

  /** Something may have become final (called after a commit). */
  wake(): void {
    if (!this.waiting.size) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    // A check that fails leaves its waiters to the next wake-up or the safety poll (scheduled here too).
    this.checking = this.check()
      .catch(() => this.schedule())
      .finally(() => {
        this.checking = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async check(): Promise<void> {
    const final = await this.repo.finalRowsOf([...this.waiting.keys()]).catch(() => []);
    for (const row of final) {
      const answer = toTxDto(row);
      for (const f of [...(this.waiting.get(row.id) ?? [])]) f(answer);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || !this.waiting.size) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, SAFETY_POLL_MS);
    this.timer.unref();
  }
}
