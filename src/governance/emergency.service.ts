/**
 * The emergency pause (API contract, "Governance and key lifecycle"): one admin, a legal basis.
 * For a firm: the firm is suspended, and every active token it signs gets governance's own pause
 * flag and loses the firm's address as agent; for an issuer: every token of that issuer. Nothing
 * here opens the firm's or issuer's key, so it works when that key cannot be opened. The rows
 * carry a priority, so they are signed ahead of every other queued governance row.
 *
 * Tokens on contract version 1 have no governance flag: governance grants itself the agent role,
 * and once that is mined (a job: the pause would not even estimate before), pauses as agent and
 * revokes the firm's key. The emergency unpause is a platform action (a second admin with
 * PLATFORM_FOUR_EYES); it lifts the flag (v1: governance's own unpause) and re-grants no role.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AppError } from '../common/app-error';
import { Idempotency } from '../common/idempotency/idempotency';
import { actorOf, type Principal } from '../common/principal';
import { UnitOfWork } from '../database/unit-of-work';
import { IssuersService } from '../issuers/issuers.service';
import { Jobs } from '../jobs/jobs.service';
import { NotificationsService } from '../notifications/notifications.service';
import { OperatorsService } from '../operators/operators.service';
import { PlatformActions } from '../platform-actions/platform-actions.service';
import type { Token } from '../tokens/entities/token.entity';
import { TokensService } from '../tokens/tokens.service';
import type { TransactionResponse } from '../transactions/dto/transaction.response';
import { TransactionQueue } from '../transactions/queue';
import { TransactionsService } from '../transactions/transactions.service';
import type { LegalBasisDto } from '../approvals/dto/legal-basis.dto';
import { GovernanceService } from './governance.service';

const V1_JOB = 'governance.v1-emergency-pause';
const UNPAUSE = 'emergency-unpause';
/** The emergency rows' order within the governance queue: grant (v1), pause, then revoke. */
const PRIORITY = { grant: 3, pause: 2, revoke: 1 } as const;

type Subject = { type: 'operator' | 'issuer'; id: string };

interface V1Payload {
  grantId: string;
  token: { id: string; address: string };
  agent: `0x${string}`;
  onBehalfOf: string;
  legalBasis: Record<string, unknown>;
}

@Injectable()
export class EmergencyService implements OnModuleInit {
  private readonly logger = new Logger('Emergency');

  constructor(
    private readonly uow: UnitOfWork,
    private readonly tokens: TokensService,
    private readonly operators: OperatorsService,
    private readonly issuers: IssuersService,
    private readonly governance: GovernanceService,
    private readonly actions: PlatformActions,
    private readonly jobs: Jobs,
    private readonly queue: TransactionQueue,
    private readonly notifications: NotificationsService,
    private readonly audit: AuditSink,
    private readonly idempotency: Idempotency,
    private readonly transactions: TransactionsService,
  ) {}

  onModuleInit(): void {
    this.actions.register(UNPAUSE, {
      run: (em, a) => this.unpauseIn(em, { type: a.subject_type as Subject['type'], id: a.subject_id }, a.payload),
    });
    this.jobs.register<V1Payload>(V1_JOB, (job) => this.v1Continue(job.payload, (em) => job.completeWith(em)), {
      maxAttempts: 10_000,
      backoff: { baseMs: 500, maxMs: 5_000 },
    });
  }

  async pauseOperator(
    p: Principal,
    id: string,
    legalBasis: LegalBasisDto,
    key: string | undefined,
    requestId?: string,
  ): Promise<{ operatorId: string; transactions: TransactionResponse[] }> {
    const transactions = await this.pause(p, { type: 'operator', id }, legalBasis, key, requestId, async () => {
      await this.operators.get(id, p); // 404 for an unknown firm
      return { agent: await this.operators.signerAddressOf(id), tokens: await this.tokens.activeSignedBy('operator', id) };
    });
    return { operatorId: id, transactions };
  }

  async pauseIssuer(
    p: Principal,
    id: string,
    legalBasis: LegalBasisDto,
    key: string | undefined,
    requestId?: string,
  ): Promise<{ issuerId: string; transactions: TransactionResponse[] }> {
    const transactions = await this.pause(p, { type: 'issuer', id }, legalBasis, key, requestId, async () => {
      const issuer = await this.issuers.get(id, p);
      return { agent: issuer.signerAddress as `0x${string}`, tokens: await this.tokens.activeSignedBy('issuer', id) };
    });
    return { issuerId: id, transactions };
  }

  /**
   * With an Idempotency-Key the same request answers the same rows again (found by the pause's
   * `requestGroup`, which tags each row it created), and never pauses twice. A firm is suspended
   * in the same transaction.
   */
  private async pause(
    p: Principal,
    subject: Subject,
    legalBasis: LegalBasisDto,
    key: string | undefined,
    requestId: string | undefined,
    read: () => Promise<{ agent: `0x${string}`; tokens: Token[] }>,
  ): Promise<TransactionResponse[]> {
    const { value } = await this.idempotency.run(
      p.id,
      key,
      `POST /v1/${subject.type}s/${subject.id}/emergency-pause`,
      { legalBasis },
      async () => {
        const { agent, tokens } = await read();
        return {
          write: async (em) => {
            if (subject.type === 'operator')
              await this.operators.setStatusIn(em, subject.id, 'suspended', p, requestId, { emergency: true, legalBasis });
            return this.pauseIn(em, p, subject, tokens, agent, legalBasis, requestId);
          },
        };
      },
      (group) => this.transactions.ofRequestGroup(group),
    );
    this.governance.wake();
    return value;
  }

  /** Emergency unpause: a platform action (runs at once with PLATFORM_FOUR_EYES off). */
  async requestUnpause(
    p: Principal,
    subject: Subject,
    legalBasis: LegalBasisDto,
    requestId?: string,
  ): Promise<{ actionId: string; status: string; transactions?: TransactionResponse[] }> {
    if (subject.type === 'operator') await this.operators.get(subject.id, p);
    else await this.issuers.get(subject.id, p);
    const out = await this.uow.run((em) => this.actions.request(em, p, { kind: UNPAUSE, subject, payload: { legalBasis } }, requestId));
    if (!out.ran) return { actionId: out.action.id, status: out.action.status };
    this.governance.wake();
    return { actionId: out.action.id, status: out.action.status, transactions: out.result.transactions as TransactionResponse[] };
  }

  private async pauseIn(
    em: EntityManager,
    p: Principal,
    subject: Subject,
    tokens: Token[],
    agent: `0x${string}`,
    legalBasis: LegalBasisDto,
    requestId?: string,
  ): Promise<{ id: string; value: TransactionResponse[] }> {
    const basis = { ...legalBasis } as Record<string, unknown>;
    const me = await this.governance.identity();
    const requestGroup = randomUUID();
    const out: TransactionResponse[] = [];
    for (const t of tokens) {
      const token = { id: t.id, address: t.address! };
      const common = {
        token,
        onBehalfOf: t.operatorId,
        legalBasis: basis,
        request: { emergency: true, requestedByAdmin: p.id, requestGroup },
      };
      if (t.contractVersion >= 2) {
        out.push(await this.governance.enqueue(em, { ...common, kind: 'governance-pause', priority: PRIORITY.pause }));
        out.push(await this.governance.enqueue(em, { ...common, kind: 'revoke-agent', account: agent, priority: PRIORITY.revoke }));
      } else {
        const grant = await this.governance.enqueue(em, { ...common, kind: 'grant-agent', account: me.address, priority: PRIORITY.grant });
        out.push(grant);
        await this.jobs.enqueue(em, {
          type: V1_JOB,
          key: `v1-emergency:${t.id}`,
          payload: { grantId: grant.id, token, agent, onBehalfOf: t.operatorId, legalBasis: basis } satisfies V1Payload,
        });
      }
    }
    await this.audit.record(
      {
        actor: actorOf(p),
        operatorId: subject.type === 'operator' ? subject.id : null,
        action: 'governance.emergency-pause',
        subject,
        outcome: 'success',
        details: { legalBasis: basis, requestGroup, tokens: tokens.map((t) => t.id), transactions: out.map((x) => x.id) },
        requestId,
      },
      em,
    );
    const what = `${subject.type} ${subject.id}`;
    // Every admin (the platform feed) and the ops team; the firm sees it in its own feed.
    await this.notifications.notify(em, {
      kind: 'governance.emergency-pause',
      operatorId: null,
      subject: `Emergency pause of ${what}`,
      body: `Admin ${p.loginId} paused every active token of ${what} (${tokens.length}) under legal basis ${legalBasis.code}${legalBasis.reference ? ` (${legalBasis.reference})` : ''}.`,
      mailOps: true,
    });
    if (subject.type === 'operator')
      await this.notifications.notify(em, {
        kind: 'governance.emergency-pause',
        operatorId: subject.id,
        subject: 'Your firm was suspended and its tokens paused by the platform',
        body: `Legal basis: ${legalBasis.code}${legalBasis.reference ? ` (${legalBasis.reference})` : ''}. Contact the platform operations team.`,
        mailOps: false,
      });
    return { id: requestGroup, value: out };
  }

  /** v1: once governance holds the agent role (its grant mined), pause as agent and revoke the firm's key. */
  private async v1Continue(job: V1Payload, complete: (em: EntityManager) => Promise<void>): Promise<void> {
    const status = (await this.queue.statusesOf([job.grantId])).get(job.grantId);
    if (status === 'confirmed') {
      await this.uow.run(async (em) => {
        const common = { token: job.token, onBehalfOf: job.onBehalfOf, legalBasis: job.legalBasis, request: { emergency: true } };
        await this.governance.enqueue(em, { ...common, kind: 'pause', priority: PRIORITY.pause });
        await this.governance.enqueue(em, { ...common, kind: 'revoke-agent', account: job.agent, priority: PRIORITY.revoke });
        await complete(em);
      });
      this.governance.wake();
      return;
    }
    if (status && ['failed', 'cancelled', 'rejected', 'expired'].includes(status)) {
      this.logger.error(`v1 emergency pause of token ${job.token.id}: governance's agent grant ended ${status}; pause it by hand`);
      await this.uow.run((em) => complete(em));
      return;
    }
    throw new Error(`waiting for governance's agent grant ${job.grantId} (${status ?? 'unknown'})`);
  }

  private async unpauseIn(
    em: EntityManager,
    subject: Subject,
    payload: Record<string, unknown>,
  ): Promise<{ transactions: TransactionResponse[] }> {
    if (subject.type !== 'operator' && subject.type !== 'issuer') throw new AppError('VALIDATION_FAILED', 'unknown subject');
    const tokens = await this.tokens.activeSignedBy(subject.type, subject.id);
    const out: TransactionResponse[] = [];
    for (const t of tokens) {
      const common = {
        token: { id: t.id, address: t.address! },
        onBehalfOf: t.operatorId,
        legalBasis: (payload.legalBasis ?? null) as Record<string, unknown> | null,
        request: { emergency: true },
      };
      out.push(await this.governance.enqueue(em, { ...common, kind: t.contractVersion >= 2 ? 'governance-unpause' : 'unpause' }));
    }
    return { transactions: out };
  }
}
