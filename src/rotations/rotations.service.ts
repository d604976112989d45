/**
 * Key rotation of a firm's or an issuer's signing key (API contract, "Governance and key
 * lifecycle"), approved by a second admin (platform action `key-rotation`). The steps are rows
 * of rotation_steps, run in order by one serial job per rotation (`rotation.run`), each exactly
 * once: a step's effect and its `done` mark commit together, and a governance transaction is
 * queued in the same database transaction that records its id on the step, so a crash (kill -9)
 * anywhere resumes at the first step not done without queuing anything twice.
 *
 * hold-queue   a new key is generated and sealed on the rotation row; the old address's queue is held
 * settle-old   every row the old key signed is final: mined (the pipeline re-broadcasts or bumps
 *              it), or after a bounded wait its nonce consumed by a 0-value self-transfer and the
 *              row re-queued (old-key-settlement.ts); the new address has gas (else `waiting_for_gas`).
 *              Where the old key cannot be opened, the revokes are listed before the grants
 *              (audit `rotation.revoke-first`): what the old key signed can then only revert.
 * grant-agent  per active token: governance grants the new address (the row confirmed)
 * revoke-agent per active token: governance revokes the old address (the row confirmed)
 * destroy-old-key  one transaction: the owner's sealed key is replaced by the new one (the old
 *              ciphertexts are gone; audit `key.destroy`), the rotation keeps no ciphertext, the
 *              tokens and every unsigned row move to the new address, the hold is released.
 *
 * A governance row that ends failed fails its step and the rotation (signing still held) until
 * `resume`. The grant and revoke steps are listed when settle-old is done, so a token whose
 * deployment was in flight at approval joins the rotation (when the old key is refused, one whose
 * deployment is still unmined then does not: it is not active yet).
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { getAddress } from 'viem';
import { AuditSink } from '../audit/audit-sink';
import { ChainService } from '../chain/chain.service';
import { GasFunding } from '../chain/gas-funding';
import { AppError, NotFoundError } from '../common/app-error';
import { AppConfig } from '../config/app-config';
import { Idempotency } from '../common/idempotency/idempotency';
import { actorOf, firmOf, type Principal } from '../common/principal';
import { GovernanceService } from '../governance/governance.service';
import { IssuersService } from '../issuers/issuers.service';
import { Jobs } from '../jobs/jobs.service';
import { SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import { OperatorsService } from '../operators/operators.service';
import { PlatformActions } from '../platform-actions/platform-actions.service';
import { TokensService } from '../tokens/tokens.service';
import { TransactionQueue } from '../transactions/queue';
import { publishRotationCompleted } from '../webhooks/webhook-events';
import { OldKeySettlement } from './old-key-settlement';
import { toRotationView, type RotationView } from './rotation-view';
import { RotationsRepository, type RotationRow, type StepRow } from './rotations.repository';

const RUN_JOB = 'rotation.run';
const ACTION = 'key-rotation';
const ENDED = ['failed', 'cancelled', 'rejected', 'expired'];

type Outcome = 'done' | 'wait' | { failed: { code: string; message: string } };

/** Thrown to have the job run again later (its backoff): the step waits for the chain or the pipeline. */
class StepWaits extends Error {}

@Injectable()
export class RotationsService implements OnModuleInit {
  private readonly logger = new Logger('Rotation');
  private readonly settlement: OldKeySettlement;

  constructor(
    private readonly repo: RotationsRepository,
    private readonly actions: PlatformActions,
    private readonly jobs: Jobs,
    private readonly keys: SigningKeys,
    private readonly governance: GovernanceService,
    private readonly tokens: TokensService,
    private readonly operators: OperatorsService,
    private readonly issuers: IssuersService,
    private readonly queue: TransactionQueue,
    private readonly chain: ChainService,
    private readonly gas: GasFunding,
    private readonly audit: AuditSink,
    private readonly idempotency: Idempotency,
    stores: SealedKeyStores,
    config: AppConfig,
  ) {
    // A plain class rather than a provider: it is this service's helper, built from what it already has.
    this.settlement = new OldKeySettlement(queue, chain, gas, keys, stores, config);
  }

  onModuleInit(): void {
    this.actions.register(ACTION, {
      run: async (em, a) => {
        await this.start(em, String(a.payload.rotationId));
        return { rotationId: a.payload.rotationId };
      },
      dropped: async (em, a) => this.repo.setStatus(em, String(a.payload.rotationId), a.status === 'rejected' ? 'rejected' : 'expired'),
    });
    this.jobs.register<{ id: string }>(RUN_JOB, (job) => this.run(job.payload.id, (em) => job.completeWith(em)), {
      maxAttempts: 100_000,
      backoff: { baseMs: 200, maxMs: 1_000 },
    });
  }

  /** With an Idempotency-Key the same request answers the same rotation again (never a second one). */
  async request(
    p: Principal,
    kind: 'operator' | 'issuer',
    signerId: string,
    legalBasis: Record<string, unknown> | undefined,
    key: string | undefined,
    requestId?: string,
  ): Promise<RotationView> {
    const { value } = await this.idempotency.run(
      p.id,
      key,
      `POST /v1/${kind}s/${signerId}/key-rotation`,
      { legalBasis: legalBasis ?? null },
      async () => {
        const oldAddress = getAddress(
          kind === 'operator' ? await this.operators.signerAddressOf(signerId) : await this.issuers.signerAddressOf(signerId),
        );
        return {
          write: async (em) => {
            const id = randomUUID();
            const ok = await this.repo.insert(em, {
              id,
              signer_kind: kind,
              signer_id: signerId,
              old_address: oldAddress,
              status: 'pending_approval',
              requested_by: p.id,
              legal_basis: legalBasis ?? null,
            });
            if (!ok) throw new AppError('ROTATION_IN_PROGRESS', 'This signer already has a key rotation that has not ended');
            const out = await this.actions.request(
              em,
              p,
              { kind: ACTION, subject: { type: kind, id: signerId }, payload: { rotationId: id } },
              requestId,
            );
            await this.repo.setAction(em, id, out.action.id);
            return { id };
          },
        };
      },
      (id) => this.view(id),
    );
    return value;
  }

  async get(p: Principal, id: string): Promise<RotationView> {
    const r = await this.repo.find(id);
    const firm = firmOf(p);
    if (!r || (firm && !(r.signer_kind === 'operator' && r.signer_id === firm))) throw new NotFoundError('Rotation');
    return this.view(id);
  }

  async resume(p: Principal, id: string, requestId?: string): Promise<RotationView> {
    await this.repo.transaction(async (em) => {
      const r = await this.repo.lock(em, id);
      if (!r) throw new NotFoundError('Rotation');
      if (r.status !== 'failed') throw new AppError('NOT_PENDING', `The rotation is ${r.status}; only a failed rotation resumes`);
      for (const s of await this.repo.steps(id, em))
        if (s.status === 'failed') {
          // A failed governance row is requested again (a new row); the failed one stays on record.
          await this.repo.reopenStep(em, id, s.seq);
        }
      await this.repo.setStatus(em, id, 'running');
      await this.jobs.enqueue(em, { type: RUN_JOB, key: `rotation:${id}`, payload: { id } });
      await this.audit.record(
        { actor: actorOf(p), action: 'rotation.resume', subject: { type: 'rotation', id }, outcome: 'success', requestId },
        em,
      );
    });
    return this.view(id);
  }

  /** Approved: the steps are fixed (every active token of the signer) and the job starts. */
  private async start(em: EntityManager, id: string): Promise<void> {
    const r = await this.repo.lock(em, id);
    if (!r) throw new NotFoundError('Rotation');
    // The role steps are listed when settle-old is done: a token whose deployment the old key
    // signed is active by then (and one still queued moves to the new key with the queue).
    await this.repo.insertSteps(em, id, 1, [
      { kind: 'hold-queue', tokenId: null },
      { kind: 'settle-old', tokenId: null },
    ]);
    await this.repo.setStatus(em, id, 'running');
    await this.jobs.enqueue(em, { type: RUN_JOB, key: `rotation:${id}`, payload: { id } });
  }

  /** The job: every step not done yet, in order; a waiting step throws so the job runs again. */
  private async run(id: string, complete: (em: EntityManager) => Promise<void>): Promise<void> {
    for (;;) {
      const r = await this.repo.find(id);
      if (!r || !['running', 'waiting_for_gas'].includes(r.status)) return this.repo.transaction((em) => complete(em));
      const step = (await this.repo.steps(id)).find((s) => s.status !== 'done');
      if (!step) return this.repo.transaction((em) => complete(em));
      if (step.status === 'failed') return this.repo.transaction((em) => complete(em));
      const out = await this.step(r, step, complete);
      if (out === 'wait') throw new StepWaits(`rotation ${id}: ${step.kind} waits`);
      if (out !== 'done') {
        await this.repo.transaction(async (em) => {
          await this.repo.markStep(em, id, step.seq, { status: 'failed', error: out.failed });
          await this.repo.setStatus(em, id, 'failed', out.failed);
          await complete(em);
        });
        this.logger.warn(`rotation ${id} failed at ${step.kind}: ${out.failed.code}; signing stays held until resume`);
        return;
      }
      if (step.kind === 'destroy-old-key') return;
    }
  }

  private async step(r: RotationRow, s: StepRow, complete: (em: EntityManager) => Promise<void>): Promise<Outcome> {
    switch (s.kind) {
      case 'hold-queue':
        return this.holdQueue(r, s);
      case 'settle-old':
        return this.settleOld(r, s);
      case 'grant-agent':
      case 'revoke-agent':
        return this.roleStep(r, s);
      case 'destroy-old-key':
        return this.destroyOldKey(r, s, complete);
    }
  }

  private async holdQueue(r: RotationRow, s: StepRow): Promise<Outcome> {
    if (!r.new_address) {
      const { address, sealed } = await this.keys.create({ kind: r.signer_kind, id: r.signer_id });
      await this.repo.transaction(async (em) => {
        const again = await this.repo.lock(em, r.id);
        if (again && !again.new_address)
          await this.repo.setNewKey(em, r.id, {
            address,
            encryptedKey: sealed.encryptedKey,
            encryptedDataKey: sealed.encryptedDataKey,
            kmsKeyId: sealed.kmsKeyId,
          });
      });
    }
    await this.queue.hold(r.old_address, `key rotation ${r.id}`);
    await this.repo.markStep(undefined, r.id, s.seq, { status: 'done' });
    return 'done';
  }

  private async settleOld(r: RotationRow, s: StepRow): Promise<Outcome> {
    const held = (await this.repo.steps(r.id)).find((x) => x.kind === 'hold-queue');
    const settled = await this.settlement.settle({
      rotationId: r.id,
      kind: r.signer_kind,
      id: r.signer_id,
      address: getAddress(r.old_address),
      operatorId: r.signer_kind === 'operator' ? r.signer_id : null,
      heldAt: new Date(held?.updated_at ?? r.created_at),
    });
    if (settled.state === 'waiting') return 'wait';
    const revokeFirst = settled.state === 'refused' ? settled.reason : null;
    const fresh = await this.repo.find(r.id);
    const next = getAddress(fresh!.new_address!);
    let balance = await this.chain.pipeline.getBalance({ address: next });
    if (balance === 0n && this.gas.enabled) {
      await this.gas.fund(next);
      balance = await this.chain.pipeline.getBalance({ address: next });
    }
    if (balance === 0n) {
      if (r.status !== 'waiting_for_gas') await this.repo.setStatus(undefined, r.id, 'waiting_for_gas');
      return 'wait';
    }
    if (r.status === 'waiting_for_gas') await this.repo.setStatus(undefined, r.id, 'running');
    // Nothing the old key signed is in flight and its queue is held: the set of its active tokens
    // is final now. Listed with the step's `done` in one transaction (a rotation from before this
    // change already has its steps).
    await this.repo.transaction(async (em) => {
      if (!(await this.repo.hasStepsAfter(em, r.id, s.seq))) {
        const tokens = await this.tokens.activeSignedBy(r.signer_kind, r.signer_id);
        const grants = tokens.map((t) => ({ kind: 'grant-agent' as const, tokenId: t.id }));
        const revokes = tokens.map((t) => ({ kind: 'revoke-agent' as const, tokenId: t.id }));
        // The old key refused: its unfinished transactions cannot be replaced, so the old address
        // loses the agent role before anything else and they can only revert.
        const roles = revokeFirst ? [...revokes, ...grants] : [...grants, ...revokes];
        await this.repo.insertSteps(em, r.id, s.seq + 1, [...roles, { kind: 'destroy-old-key', tokenId: null }]);
        if (revokeFirst) {
          await this.audit.record(
            {
              actor: { type: 'system' },
              operatorId: r.signer_kind === 'operator' ? r.signer_id : null,
              action: 'rotation.revoke-first',
              subject: { type: 'rotation', id: r.id },
              outcome: 'success',
              details: { oldAddress: r.old_address, reason: revokeFirst, tokens: tokens.length },
            },
            em,
          );
          this.logger.warn(`rotation ${r.id}: ${revokeFirst}; the old address's agent role is revoked first`);
        }
      }
      await this.repo.markStep(em, r.id, s.seq, { status: 'done' });
    });
    return 'done';
  }

  /** Queues governance's grant or revoke once (its id recorded in the same transaction), then waits for its outcome. */
  private async roleStep(r: RotationRow, s: StepRow): Promise<Outcome> {
    let txId = s.transaction_id;
    if (!txId) {
      const token = (await this.tokens.activeSignedBy(r.signer_kind, r.signer_id)).find((t) => t.id === s.token_id);
      if (!token)
        return { failed: { code: 'TOKEN_NOT_ACTIVE', message: `token ${s.token_id} is no longer an active token of this signer` } };
      const account = getAddress(s.kind === 'grant-agent' ? r.new_address! : r.old_address);
      txId = await this.repo.transaction(async (em) => {
        const [again] = (await this.repo.steps(r.id, em)).filter((x) => x.seq === s.seq);
        if (again?.transaction_id) return again.transaction_id;
        const tx = await this.governance.enqueue(em, {
          kind: s.kind as 'grant-agent' | 'revoke-agent',
          token: { id: token.id, address: token.address! },
          onBehalfOf: token.operatorId,
          account,
          generatedKey: s.kind === 'grant-agent',
          legalBasis: r.legal_basis,
          request: { rotationId: r.id },
        });
        await this.repo.markStep(em, r.id, s.seq, { transactionId: tx.id });
        return tx.id;
      });
      this.governance.wake();
    }
    const status = (await this.queue.statusesOf([txId])).get(txId);
    if (status === 'confirmed') {
      await this.repo.markStep(undefined, r.id, s.seq, { status: 'done' });
      return 'done';
    }
    if (status && ENDED.includes(status))
      return { failed: { code: 'GOVERNANCE_TRANSACTION_FAILED', message: `${s.kind} transaction ${txId} ended ${status}` } };
    return 'wait';
  }

  private async destroyOldKey(r: RotationRow, s: StepRow, complete: (em: EntityManager) => Promise<void>): Promise<Outcome> {
    await this.repo.transaction(async (em) => {
      const x = await this.repo.lock(em, r.id);
      if (!x?.new_address || !x.new_encrypted_key || !x.new_encrypted_data_key || !x.new_kms_key_id)
        throw new Error(`rotation ${r.id}: the new key is missing`);
      const next = getAddress(x.new_address);
      const key = {
        address: next,
        encryptedKey: x.new_encrypted_key,
        encryptedDataKey: x.new_encrypted_data_key,
        kmsKeyId: x.new_kms_key_id,
      };
      if (x.signer_kind === 'operator') await this.operators.replaceKey(em, x.signer_id, key);
      else await this.issuers.replaceKey(em, x.signer_id, key);
      await this.repo.clearNewKey(em, r.id);
      await this.tokens.repointSigner(em, x.signer_kind, x.signer_id, next);
      const moved = await this.queue.moveQueue(em, x.old_address, next);
      await this.audit.record(
        {
          actor: { type: 'system' },
          operatorId: x.signer_kind === 'operator' ? x.signer_id : null,
          action: 'key.destroy',
          subject: { type: `${x.signer_kind}-key`, id: x.signer_id },
          outcome: 'success',
          details: { rotationId: r.id, oldAddress: x.old_address, newAddress: next, rowsMoved: moved },
        },
        em,
      );
      await this.repo.markStep(em, r.id, s.seq, { status: 'done' });
      await this.repo.setStatus(em, r.id, 'completed');
      // In the same transaction as the completion: the event commits (or rolls back) with it.
      // A firm's signer rotation is the firm's event; an issuer's goes to the platform's endpoints.
      await publishRotationCompleted(em, x.signer_kind === 'operator' ? x.signer_id : null, {
        id: r.id,
        actionId: x.action_id,
        signer: { kind: x.signer_kind, id: x.signer_id },
        oldAddress: x.old_address,
        newAddress: next,
        status: 'completed',
        rowsMoved: moved,
      });
      await complete(em);
    });
    this.queue.wake();
    return 'done';
  }

  private async view(id: string): Promise<RotationView> {
    const r = await this.repo.find(id);
    if (!r) throw new NotFoundError('Rotation');
    return toRotationView(r, await this.repo.steps(id));
  }
}
