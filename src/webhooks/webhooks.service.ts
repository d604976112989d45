/**
 * Webhook endpoints as the routes see them: a firm-admin manages its firm's endpoints (the
 * firm's events), an admin the platform's (platform events). A foreign id answers 404 as an
 * unknown one. The secret is in the answer of create and rotate only, and in no log, audit
 * event or error; every change is audited.
 */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError } from '../common/app-error';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from '../common/pagination';
import { actorOf, firmOf, type Principal } from '../common/principal';
import { AuditSink } from '../audit/audit-sink';
import { AppConfig } from '../config/app-config';
import { urlProblem } from './outbound';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhookSecrets } from './webhook-secrets';
import { WebhooksRepository, type DeliveryRow, type EndpointRow } from './webhooks.repository';

/** How long the previous secret still signs after a rotation. */
const ROTATION_OVERLAP_SECONDS = 86_400;

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabledReason: 'manual' | 'failing' | null;
  createdAt: string;
}

export interface DeliveryView {
  id: string;
  eventId: string;
  type: string;
  sequence: number;
  attempt: number;
  status: 'pending' | 'delivered' | 'failed';
  responseStatus: number | null;
  at: string;
}

const view = (r: EndpointRow): WebhookView => ({
  id: r.id,
  url: r.url,
  events: r.events,
  enabled: r.enabled,
  disabledReason: r.disabled_reason,
  createdAt: r.created_at.toISOString(),
});

@Injectable()
export class WebhooksService {
  constructor(
    private readonly repo: WebhooksRepository,
    private readonly secrets: WebhookSecrets,
    private readonly dispatcher: WebhookDispatcher,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  async create(p: Principal, dto: { url: string; events: string[] }, requestId?: string): Promise<WebhookView & { secret: string }> {
    this.checkUrl(dto.url);
    const tenant = firmOf(p);
    const id = randomUUID();
    const { sealed, shown } = await this.secrets.create(id, 1);
    const events = [...new Set(dto.events)];
    await this.repo.transaction(async (em) => {
      await this.repo.insertEndpoint(em, { id, tenant, url: dto.url, events, sealed, createdBy: p.id });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: tenant,
          action: 'webhook.create',
          subject: { type: 'webhook', id },
          outcome: 'success',
          details: { url: dto.url, events },
          requestId,
        },
        em,
      );
    });
    return { ...(await this.get(p, id)), secret: shown };
  }

  async get(p: Principal, id: string): Promise<WebhookView> {
    const row = await this.repo.find(id, firmOf(p));
    if (!row) throw new NotFoundError('Webhook');
    return view(row);
  }

  async list(p: Principal, q: PageQuery): Promise<Page<WebhookView>> {
    const limit = q.limit ?? 20;
    const rows = await this.repo.list(firmOf(p), limit + 1, q.cursor ? decodeCursor(q.cursor) : null);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(view), nextCursor: rows.length > limit && last ? encodeCursor(last.created_micros, last.id) : null };
  }

  async update(p: Principal, id: string, dto: { enabled?: boolean; events?: string[] }, requestId?: string): Promise<WebhookView> {
    const tenant = firmOf(p);
    await this.repo.transaction(async (em) => {
      const row = await this.repo.find(id, tenant, em);
      if (!row) throw new NotFoundError('Webhook');
      const events = dto.events ? [...new Set(dto.events)] : undefined;
      await this.repo.update(em, id, { events, enabled: dto.enabled, disabledReason: dto.enabled === false ? 'manual' : null });
      // Re-enabling resumes from the held event.
      if (dto.enabled === true && !row.enabled) await this.repo.resumeHeld(em, id);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: tenant,
          action: 'webhook.update',
          subject: { type: 'webhook', id },
          outcome: 'success',
          details: { ...(events ? { events } : {}), ...(dto.enabled !== undefined ? { enabled: dto.enabled } : {}) },
          requestId,
        },
        em,
      );
    });
    this.dispatcher.wake();
    return this.get(p, id);
  }

  async rotateSecret(p: Principal, id: string, requestId?: string): Promise<{ secret: string }> {
    const row = await this.repo.find(id, firmOf(p));
    if (!row) throw new NotFoundError('Webhook');
    const version = row.secret_version + 1;
    const { sealed, shown } = await this.secrets.create(id, version);
    await this.repo.transaction(async (em) => {
      // A concurrent rotation of the same endpoint loses here and answers 404 rather than overwrite.
      if (!(await this.repo.rotate(em, id, version, sealed, ROTATION_OVERLAP_SECONDS))) throw new NotFoundError('Webhook');
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firmOf(p),
          action: 'webhook.rotate-secret',
          subject: { type: 'webhook', id },
          outcome: 'success',
          details: { version, previousSignsForSeconds: ROTATION_OVERLAP_SECONDS },
          requestId,
        },
        em,
      );
    });
    return { secret: shown };
  }

  async remove(p: Principal, id: string, requestId?: string): Promise<void> {
    const tenant = firmOf(p);
    if (!(await this.repo.delete(id, tenant))) throw new NotFoundError('Webhook');
    this.secrets.forget(id);
    await this.audit.record({
      actor: actorOf(p),
      operatorId: tenant,
      action: 'webhook.delete',
      subject: { type: 'webhook', id },
      outcome: 'success',
      details: {},
      requestId,
    });
  }

  async deliveries(p: Principal, id: string, q: PageQuery): Promise<Page<DeliveryView>> {
    await this.get(p, id);
    const limit = q.limit ?? 20;
    const rows = await this.repo.deliveries(id, limit + 1, q.cursor ? decodeCursor(q.cursor) : null);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r: DeliveryRow) => ({
        id: r.id,
        eventId: r.event_id,
        type: r.type,
        sequence: Number(r.sequence),
        attempt: r.attempts,
        status: r.status,
        responseStatus: r.response_status,
        at: r.at.toISOString(),
      })),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_micros, last.id) : null,
    };
  }

  async retry(p: Principal, id: string, deliveryId: string, requestId?: string): Promise<void> {
    await this.get(p, id);
    if (!(await this.repo.retryDelivery(id, deliveryId))) throw new NotFoundError('Delivery');
    await this.audit.record({
      actor: actorOf(p),
      operatorId: firmOf(p),
      action: 'webhook.retry',
      subject: { type: 'webhook', id },
      outcome: 'success',
      details: { deliveryId },
      requestId,
    });
    this.dispatcher.wake();
  }

  private checkUrl(url: string): void {
    const problem = urlProblem(url, { production: this.config.isProduction, allowPrivate: this.config.webhooks.allowPrivate });
    if (problem) throw new ValidationError([{ field: 'url', message: problem }]);
  }
}
