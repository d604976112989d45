/**
 * `Prefer: wait` without polling per request: waiting requests register here; whatever makes
 * transactions final (a receipt round, a signing round that failed rows, a cancel) wakes them
 * at its commit, and one status query per wake answers every waiter at once. Across instances
 * the wake travels as one PostgreSQL NOTIFY per committing round (never one per row: a NOTIFY
 * serialises commits); a slow safety poll covers a lost notification.
 */

/** The channel a round that made transactions final notifies at its commit. */
const FINAL_CHANNEL = 'kagi_tx_final';
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { Notifier } from '../../database/notifier';
import { FINAL_STATUSES } from '../entities/transaction.entity';
import { TransactionsRepository } from '../transactions.repository';

const SAFETY_POLL_MS = 1_000;

@Injectable()
export class FinalityWaiters implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly waiting = new Map<string, Set<() => void>>();
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

  /** True once `id` is final, false after `seconds`. */
  async wait(id: string, seconds: number): Promise<boolean> {
    const deadline = Date.now() + seconds * 1000;
    if (await this.isFinal(id)) return true;
    return new Promise<boolean>((resolve) => {
      const set = this.waiting.get(id) ?? new Set();
      this.waiting.set(id, set);
      const done = (final: boolean) => {
        clearTimeout(timeout);
        set.delete(onFinal);
        if (!set.size && this.waiting.get(id) === set) this.waiting.delete(id);
        resolve(final);
      };
      const onFinal = () => done(true);
      const timeout = setTimeout(() => done(false), Math.max(0, deadline - Date.now()));
      set.add(onFinal);
      this.schedule();
    });
  }

  /** Something may have become final (called after a commit). */
  wake(): void {
    if (!this.waiting.size) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = this.check().finally(() => {
      this.checking = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async isFinal(id: string): Promise<boolean> {
    const s = (await this.repo.statusesOf([id])).get(id);
    return s !== undefined && FINAL_STATUSES.includes(s);
  }

  private async check(): Promise<void> {
    const ids = [...this.waiting.keys()];
    const statuses = await this.repo.statusesOf(ids).catch(() => new Map<string, never>());
    for (const id of ids) {
      const s = statuses.get(id);
      if (s !== undefined && FINAL_STATUSES.includes(s)) for (const f of [...(this.waiting.get(id) ?? [])]) f();
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
