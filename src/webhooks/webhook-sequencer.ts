/**
 * The single sequencer: fans each committed webhook event out to the endpoints of its tenant
 * that subscribe to its type, giving each delivery the endpoint's next `sequence`. One
 * instance at a time, under a PostgreSQL advisory lock, as the audit chainer does — and for
 * the same reason the order is commit order: an event is sequenced by the first pass that
 * sees it committed (events that became visible in the same pass are ordered by transaction
 * id, then time), so an event committed later never gets a lower sequence than one already
 * delivered, and a rolled-back change never takes a sequence. The insert path (the outbox
 * write in the change's transaction) stays one statement.
 *
 * It also registers the transaction-status hook: every status change the contract names
 * becomes a `transaction.<status>` event in the status change's own transaction.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import { firstLine } from '../common/logging';
import { Loop } from '../common/loop';
import { AppConfig } from '../config/app-config';
import { Notifier } from '../database/notifier';
import { toTxDto } from '../transactions/dto/transaction.response';
import { TransactionHooks } from '../transactions/hooks';
import { tenantOf, type Transition } from '../transactions/pipeline/types';
import { publishWebhookEvents, TRANSACTION_EVENT_TYPES, WEBHOOK_EVENTS_CHANNEL, type WebhookEventType } from './webhook-events';
import { WebhooksRepository } from './webhooks.repository';

/** Advisory lock key of the sequencer ('kagi', 'whsq'). */
const SEQUENCER_LOCK = [0x6b616769, 0x77687371] as const;
const BATCH = 500;
const POLL_MS = 250;
/**
 * Wake-ups within this window after a pass wait for the next one: events that commit one by one
 * (one client's operation makes three, tens of milliseconds apart) are fanned out by one pass of
 * a few statements, not one pass each. Webhooks are asynchronous; 100 ms is far below a
 * receiver's own latency and saves a third of the statements per operation at low load (measured: see README).
 */
export const WEBHOOK_GATHER_MS = 100;
/** Wakes the dispatchers when deliveries were added. */
export const WEBHOOK_DELIVERIES_CHANNEL = 'kagi_webhook_deliveries';

const CONTRACT_TYPES = new Set<string>(TRANSACTION_EVENT_TYPES);

@Injectable()
export class WebhookSequencer implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('WebhookSequencer');
  private readonly loop = new Loop(
    POLL_MS,
    () => this.pass().then((n) => n === BATCH),
    (e) => this.logger.warn(`sequencer pass failed: ${firstLine(e)}`),
    WEBHOOK_GATHER_MS,
  );
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly repo: WebhooksRepository,
    private readonly hooks: TransactionHooks,
    private readonly notifier: Notifier,
    private readonly config: AppConfig,
    private readonly http: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    this.hooks.onTransition((em, changed) => this.transactionEvents(em, changed));
  }

  onApplicationBootstrap(): void {
    if (this.config.offline || !this.http.httpAdapter) return;
    this.unlisten = this.notifier.listen(WEBHOOK_EVENTS_CHANNEL, () => this.loop.wake()).close;
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.unlisten?.();
    await this.loop.stop();
  }

  /**
   * Inside the status change's transaction: one `transaction.<status>` event per row, with the
   * Transaction as its routes answer it, built from the changed row itself (the state that
   * commits; no read). The outbox insert stores it only where an endpoint subscribes.
   */
  async transactionEvents(em: EntityManager, changed: readonly Transition[]): Promise<void> {
    const wanted = changed.filter((t) => CONTRACT_TYPES.has(`transaction.${t.status}`));
    if (!wanted.length) return;
    await publishWebhookEvents(
      em,
      wanted.map((t) => ({ tenant: tenantOf(t), type: `transaction.${t.status}` as WebhookEventType, data: { ...toTxDto(t) } })),
    );
  }

  wake(): void {
    this.loop.wake();
  }

  /** One pass: fans out up to BATCH committed events. Returns how many it took (0 when another instance holds the lock). */
  async pass(): Promise<number> {
    const out = await this.repo.transaction(async (em) => {
      const [lock] = await em.query<Array<{ ok: boolean }>>('SELECT pg_try_advisory_xact_lock($1, $2) AS ok', [...SEQUENCER_LOCK]);
      if (!lock?.ok) return { events: 0, deliveries: 0 };
      const events = await this.repo.unsequenced(em, BATCH);
      if (!events.length) return { events: 0, deliveries: 0 };
      const endpoints = await this.repo.endpointsOf(em, [...new Set(events.map((e) => e.operator_id))]);
      const counters = new Map(endpoints.map((e) => [e.id, Number(e.next_sequence)]));
      const deliveries: Array<{ endpointId: string; eventId: string; sequence: number }> = [];
      for (const ev of events)
        for (const ep of endpoints) {
          if (ep.operator_id !== ev.operator_id || !ep.events.includes(ev.type)) continue;
          const sequence = counters.get(ep.id)!;
          counters.set(ep.id, sequence + 1);
          deliveries.push({ endpointId: ep.id, eventId: ev.id, sequence });
        }
      const used = new Set(deliveries.map((d) => d.endpointId));
      const touched = new Map([...counters].filter(([id]) => used.has(id)));
      await this.repo.fanOut(
        em,
        deliveries,
        touched,
        events.map((e) => e.id),
        WEBHOOK_DELIVERIES_CHANNEL,
      );
      return { events: events.length, deliveries: deliveries.length };
    });
    return out.events;
  }

  /** Sequences until nothing is left (tests). */
  async drain(): Promise<void> {
    while ((await this.pass()) === BATCH);
  }
}
