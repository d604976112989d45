/**
 * The single chainer: gives every committed audit event its place in its chain (`seq`,
 * `prevHash`, `hash`). One instance at a time chains, under a PostgreSQL advisory lock;
 * the insert path (AuditSink, one statement inside the caller's transaction) is untouched,
 * so the signing pipeline pays nothing for the chain.
 *
 * Commit order: an event is chained on the first pass that sees it committed, so `seq`
 * follows commit order at the resolution of a pass (a pass every POLL_MS, at once again
 * while there is a backlog); events that became visible in the same pass are ordered by
 * transaction id, then time and id. A rolled-back insert is never seen, so it never takes
 * a `seq` and can never look like a deleted row. Events written before the chain existed
 * (txid NULL) are chained first, from genesis, by the first pass.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { firstLine } from '../common/logging';
import { Loop } from '../common/loop';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../common/metrics';
import { AuditChainRepository } from './audit-chain.repository';
import { eventHash, GENESIS_HASH } from './audit-hash';

/** Advisory lock key of the chainer ('kagi', 'chain' as two int4s). */
const CHAINER_LOCK = [0x6b616769, 0x63686e] as const;
const BATCH = 2000;
const POLL_MS = 200;

@Injectable()
export class AuditChainer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuditChainer');
  /** Every event of a transaction older than this is chained (or was rolled back). Null: not known yet. */
  private floor: string | null = null;
  private readonly loop = new Loop(
    POLL_MS,
    () => this.pass().then((n) => n === BATCH),
    (e) => this.logger.warn(`chain pass failed: ${firstLine(e)}`),
  );
  private readonly backlog;
  private readonly chained;

  constructor(
    private readonly repo: AuditChainRepository,
    private readonly config: AppConfig,
    private readonly http: HttpAdapterHost,
    metrics: Metrics,
  ) {
    this.backlog = metrics.gauge('kagi_audit_unchained_events', 'Committed audit events not yet given a place in their hash chain');
    this.chained = metrics.counter('kagi_audit_chained_events_total', 'Audit events added to a hash chain');
  }

  /** Runs in the API process only (not in the secure-room CLI, which has no HTTP server). */
  onApplicationBootstrap(): void {
    if (this.config.offline || !this.http.httpAdapter) return;
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  wake(): void {
    this.loop.wake();
  }

  /** One pass: chains up to BATCH committed events. Returns how many it chained (0 when another instance holds the lock). */
  async pass(): Promise<number> {
    const floor = this.floor;
    const result = await this.repo.locked(CHAINER_LOCK, async (em) => {
      const { horizon, events } = await this.repo.unchained(em, floor, BATCH);
      if (!events.length) return { horizon, n: 0 };
      const heads = await this.repo.headsOf(em, [...new Set(events.map((e) => e.chain))]);
      const links = events.map((e) => {
        const head = heads.get(e.chain);
        const seq = (head?.seq ?? 0) + 1;
        const prevHash = head?.hash ?? GENESIS_HASH;
        const hash = eventHash({ seq, prevHash, ...e });
        heads.set(e.chain, { chain: e.chain, seq, hash });
        return { chain: e.chain, seq, eventId: e.id, prevHash, hash };
      });
      await this.repo.append(em, links);
      return { horizon, n: links.length };
    });
    if (!result) return 0;
    // Only a pass that saw everything above the floor may raise it.
    if (result.n < BATCH) this.floor = result.horizon;
    this.chained.inc(result.n);
    this.backlog.set(result.n < BATCH ? 0 : await this.repo.backlog(this.floor));
    return result.n;
  }

  /** Chains until nothing is left (tests, the CLI, shutdown-free catch-up). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.pass();
      total += n;
      if (n < BATCH) return total;
    }
  }
}
