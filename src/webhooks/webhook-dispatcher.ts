/**
 * Sends webhook deliveries: a dedicated loop per API process, separate from src/jobs (whose
 * four shared slots must not wait on customers' receivers) and from the signing pipeline.
 *
 * - One sender per endpoint across instances: an endpoint is leased (LEASE_MS, renewed after
 *   every attempt, each attempt ≤ 10 s) before its deliveries are sent; a killed instance's
 *   lease runs out and another (or the restarted one) takes over. Every write of an attempt
 *   is fenced by the lease.
 * - In sequence order: only the endpoint's lowest undelivered delivery (its head) is sent; a
 *   failing head holds back the rest. At least once: a crash between the receiver's answer
 *   and the record sends the same `webhook-id` again.
 * - Retries: 5 s, doubling, at most 10 min apart (WEBHOOK_RETRY_BASE in tests); a head
 *   failing for 24 h (WEBHOOK_DISABLE_AFTER in tests) is held as `failed`, the endpoint is
 *   disabled and its firm notified, in one transaction. Re-enabling resumes from it.
 * - Concurrency: up to CONCURRENCY endpoints at once per process; a slow receiver costs one
 *   slot for at most 10 s per attempt, never the API's event loop or the signing pipeline.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { firstLine } from '../common/logging';
import { Loop } from '../common/loop';
import { Metrics } from '../common/metrics';
import { AppConfig } from '../config/app-config';
import { Notifier } from '../database/notifier';
import { NotificationsService } from '../notifications/notifications.service';
import { deliver } from './outbound';
import { WebhookSecrets } from './webhook-secrets';
import { WEBHOOK_DELIVERIES_CHANNEL, WEBHOOK_GATHER_MS } from './webhook-sequencer';
import { WebhooksRepository, type EndpointSecrets, type HeadDelivery } from './webhooks.repository';

const CONCURRENCY = 16;
const LEASE_MS = 30_000;
const POLL_MS = 1000;
/** Deliveries read per query while draining an endpoint's backlog. */
const RUN = 50;

/** Delay before the attempt after `attempts` failed ones: base·2^(attempts−1), capped. */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempts - 1), maxMs);
}

/** The request body: {type, timestamp, sequence, data}; `sequence` is a number (safe up to 2^53). */
export function bodyOf(h: Pick<HeadDelivery, 'type' | 'occurred_at' | 'sequence' | 'data'>): string {
  return JSON.stringify({ type: h.type, timestamp: h.occurred_at, sequence: Number(h.sequence), data: h.data });
}

@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Webhooks');
  readonly workerId = `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly active = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private readonly loop = new Loop(
    POLL_MS,
    () => this.round(),
    (e) => this.logger.warn(`webhook round failed: ${firstLine(e)}`),
    WEBHOOK_GATHER_MS,
  );
  private unlisten: (() => void) | undefined;
  private readonly attempts;

  constructor(
    private readonly repo: WebhooksRepository,
    private readonly secrets: WebhookSecrets,
    private readonly notifications: NotificationsService,
    private readonly notifier: Notifier,
    private readonly config: AppConfig,
    private readonly http: HttpAdapterHost,
    metrics: Metrics,
  ) {
    this.attempts = metrics.counter('kagi_webhook_attempts_total', 'Webhook delivery attempts by outcome', ['outcome']);
  }

  onApplicationBootstrap(): void {
    if (this.config.offline || !this.http.httpAdapter) return;
    this.unlisten = this.notifier.listen(WEBHOOK_DELIVERIES_CHANNEL, () => this.loop.wake()).close;
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.unlisten?.();
    await this.loop.stop();
    this.shutdown.abort();
    await Promise.allSettled([...this.active.values()]);
  }

  wake(): void {
    this.loop.wake();
  }

  private async round(): Promise<boolean> {
    const free = CONCURRENCY - this.active.size;
    if (free <= 0) return false;
    const claimed = await this.repo.claim(this.workerId, free, LEASE_MS, [...this.active.keys()]);
    for (const { id } of claimed) {
      const run = this.drainEndpoint(id)
        .catch((e: unknown) => this.logger.warn(`webhook endpoint ${id}: ${firstLine(e)}`))
        // Released before the endpoint can be claimed again here: a late release must not clear a fresh lease.
        .then(() => this.repo.release(id, this.workerId))
        .catch(() => undefined)
        .finally(() => {
          this.active.delete(id);
          this.loop.wake();
        });
      this.active.set(id, run);
    }
    return claimed.length === free;
  }

  /** Sends the endpoint's due heads in order until one fails, none is due, or the lease is lost. */
  private async drainEndpoint(endpointId: string): Promise<void> {
    for (;;) {
      const run = await this.repo.heads(endpointId, RUN);
      // Read once per run; a rotation is seen by the next run (the previous secret keeps signing for 24 h).
      const keys = run.length ? await this.repo.secrets(endpointId) : undefined;
      if (!keys) return;
      for (const head of run) {
        if (this.shutdown.signal.aborted || head.status !== 'pending' || !head.due) return;
        if (!(await this.attempt(endpointId, head, keys))) return;
      }
      if (run.length < RUN) return;
    }
  }

  /** One attempt of the head; true when delivered (and the lease still held). */
  private async attempt(
    endpointId: string,
    head: HeadDelivery & { url: string; operator_id: string | null },
    keys: EndpointSecrets,
  ): Promise<boolean> {
    const body = bodyOf(head);
    // Each attempt its own timestamp; the id stays the delivery's across attempts.
    const at = new Date();
    const sign = (k: EndpointSecrets['current']) =>
      this.secrets.with(endpointId, k.version, k.sealed, (key) => new Webhook(key, { format: 'raw' }).sign(head.id, at, body));
    const signatures = [await sign(keys.current), ...(keys.previous ? [await sign(keys.previous)] : [])];
    const result = await deliver({
      url: head.url,
      body,
      headers: {
        'webhook-id': head.id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatures.join(' '),
      },
      policy: { production: this.config.isProduction, allowPrivate: this.config.webhooks.allowPrivate },
      signal: this.shutdown.signal,
    });
    this.attempts.inc({ outcome: result.ok ? 'delivered' : 'failed' });
    const { retryBaseMs, retryMaxMs, disableAfterMs } = this.config.webhooks;
    const recorded = await this.repo.recordAttempt(
      { id: head.id, endpointId, worker: this.workerId, leaseMs: LEASE_MS },
      {
        delivered: result.ok,
        responseStatus: result.status,
        error: result.ok ? null : result.error,
        retryInMs: result.ok ? 0 : retryDelayMs(head.attempts + 1, retryBaseMs, retryMaxMs),
      },
    );
    if (!recorded || result.ok) return result.ok && !!recorded;
    const failingFor = Date.now() - (recorded.failingSince?.getTime() ?? Date.now());
    if (failingFor >= disableAfterMs) await this.disable(endpointId, head);
    return false;
  }

  private async disable(
    endpointId: string,
    head: { id: string; sequence: string; operator_id: string | null; url: string },
  ): Promise<void> {
    await this.repo.transaction(async (em) => {
      if (!(await this.repo.disableFailing(em, endpointId, head.id))) return;
      const host = new URL(head.url).host;
      await this.notifications.notify(em, {
        kind: 'webhook.disabled',
        operatorId: head.operator_id,
        subject: `[kagi] Webhook 停止 / Webhook endpoint disabled: ${host}`,
        body: [
          `The webhook endpoint ${endpointId} (${host}) failed every delivery attempt of event sequence ${head.sequence} for ${this.config.webhooks.disableAfterMs / 3_600_000} h and was disabled.`,
          'Its events are held; re-enable it (PATCH /v1/webhooks/{id} {"enabled": true}) to resume from the held event.',
        ].join('\n'),
        mailOps: true,
      });
    });
    this.logger.warn(`webhook endpoint ${endpointId} disabled after failing deliveries; its events are held`);
  }
}
