/**
 * Token operations over the catalogue: acceptance (who may ask, pre-checks, the debit rule,
 * the queued row) and, at signing, the call each row becomes (re-checking that the requester
 * may still sign). Deployments becoming final activate (or fail) their token, in the receipt
 * stage's database transaction.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { encodeDeployData, encodeFunctionData, getAddress, type Address } from 'viem';
import type { EntityManager } from 'typeorm';
import type { Principal } from '../../common/principal';
import { securityTokenAbi, securityTokenBytecode } from '../../chain/contracts/security-token.abi';
import { custodyAddressOf } from '../../chain/custody-address';
import { AppError, NotFoundError } from '../../common/app-error';
import type { Prepared } from '../../common/idempotency/idempotency';
import { firmOf } from '../../common/principal';
import { IssuersService } from '../../issuers/issuers.service';
import { OperatorsService } from '../../operators/operators.service';
import type { TransactionResponse } from '../../transactions/dto/transaction.response';
import { TransactionHooks, type BuiltCall } from '../../transactions/hooks';
import type { QueuedRow, Transition } from '../../transactions/pipeline/types';
import { TransactionQueue } from '../../transactions/queue';
import { UsersService } from '../../users/users.service';
import { CustodyLedger } from '../custody-ledger';
import type { Token } from '../entities/token.entity';
import { TokenReads } from '../token-reads';
import { TokensRepository } from '../tokens.repository';
import { TokensService } from '../tokens.service';
import { ApprovalPolicy } from '../../approvals/approval-policy';
import { ApprovalRechecks, type Recheck } from '../../approvals/rechecks';
import type { PendingRow } from '../../transactions/transactions.service';
import { BATCH_CALLS, OPERATION_BY_KIND, OPERATIONS, type CallArgs, type LotRow, type OperationSpec } from './catalogue';
import { Prechecks, custodyShort, insufficient, type Lookup, type UserField } from './prechecks';

type QueueRequest = Parameters<TransactionQueue['enqueue']>[2];

/** An operation request that passed its pre-checks (the debit with the block its balance was read at). */
interface Checked {
  tokenId: string;
  kind: string;
  firm: string | null;
  request: QueueRequest & { userId: string | null; args: Record<string, unknown> };
  debit?: { address: Address; amount: bigint; balance: bigint; at: bigint };
}

const amountOf = (body: Record<string, unknown>) => (typeof body.amount === 'string' ? BigInt(body.amount) : undefined);

@Injectable()
export class TokenOperations implements OnModuleInit {
  constructor(
    private readonly tokens: TokensService,
    private readonly repo: TokensRepository,
    private readonly reads: TokenReads,
    private readonly users: UsersService,
    private readonly issuers: IssuersService,
    private readonly operators: OperatorsService,
    private readonly queue: TransactionQueue,
    private readonly custody: CustodyLedger,
    private readonly hooks: TransactionHooks,
    private readonly policy: ApprovalPolicy,
    private readonly rechecks: ApprovalRechecks,
  ) {}

  onModuleInit(): void {
    this.hooks.setCallBuilder({ build: (rows) => this.build(rows) });
    this.rechecks.register(
      OPERATIONS.map((o) => o.kind),
      (row) => this.recheck(row),
    );
    this.hooks.onFinal((em, final) => this.onDeployFinal(em, final));
  }

  // ---- acceptance -----------------------------------------------------------------------

  async prepare(p: Principal, tokenId: string, kind: string, body: Record<string, unknown>): Promise<Prepared<TransactionResponse>> {
    const spec = OPERATION_BY_KIND.get(kind);
    if (!spec) throw new NotFoundError('Operation');
    const legalBasis = this.policy.legalBasis(spec.legalBasis ?? 'optional', body);
    const firm = firmOf(p);
    const [checked, gated] = await Promise.all([
      this.check(p, tokenId, spec, body),
      firm ? this.policy.mayApply(firm, spec.kind) : (false as const),
    ]);
    const request = { ...checked.request, legalBasis };
    // Always a transaction: besides the queued row and its audit event (one statement), the
    // transition hooks write in it too (the webhook outbox's `transaction.queued`), all or none.
    if (!checked.debit && !gated) return { write: (em) => this.enqueue(em, request) };
    return {
      write: async (em) => {
        await this.confirm(em, checked);
        // Required approvals are fixed now, under the window lock the policy takes (a rolling window counts this request).
        const approvalsRequired =
          gated && firm
            ? await this.policy.required(em, { firmId: firm, tokenId: checked.tokenId, kind: spec.kind, amount: amountOf(body) }, gated)
            : 0;
        const out = await this.enqueue(em, { ...request, approvalsRequired });
        if (approvalsRequired) await this.policy.awaitApproval(em, { type: 'transaction', id: out.id, firmId: firm! });
        return out;
      },
    };
  }

  /** Who may ask, the token, the named users and the pre-checks (chain reads, outside any transaction). */
  private async check(p: Principal, tokenId: string, spec: OperationSpec, body: Record<string, unknown>): Promise<Checked> {
    const t = await this.tokens.visible(p, tokenId);
    await this.assertMayOperate(p, t, spec);
    if (t.status !== 'active' || !t.address) throw new AppError('TOKEN_NOT_ACTIVE', `The token is ${t.status}`);
    const token = { ...t, address: t.address };
    const firm = firmOf(p);
    const named = spec.users.filter((f) => typeof body[f] === 'string');
    const [found, custodyAddress] = await Promise.all([
      Promise.all(
        named.map((f) =>
          this.users.getOwnedUser(firm ?? '', String(body[f]).toLowerCase()).then(
            (u): Lookup => ({ u }),
            (error: unknown): Lookup => ({ error }),
          ),
        ),
      ),
      spec.custody && firm ? this.operators.custodyAddressOf(firm) : undefined,
    ]);
    const lookups = new Map<UserField, Lookup>(named.map((f, i) => [f, found[i]!]));
    const at = spec.debits ? await this.reads.head() : undefined;
    const c = new Prechecks(this.reads, this.queue, token, spec.kind, lookups, at);
    const amount = typeof body.amount === 'string' ? BigInt(body.amount) : 0n;
    const userId = c.peek('userId')?.id;
    const ownCustody =
      spec.custody && firm && userId
        ? Promise.all([
            this.custody.held(undefined, t.id, firm, userId),
            this.queue.pendingWithdrawals(undefined, t.id, firm, userId),
          ] as const)
        : Promise.resolve([0n, 0n] as const);
    ownCustody.catch(() => undefined);
    const accepted = await spec.accept(c, body, { amount, custody: custodyAddress, ownCustody });
    const request = {
      tokenId: t.id,
      kind: spec.kind,
      principal: p,
      userId: accepted.userId ?? null,
      signer: { kind: t.signerKind, id: t.signerId, address: t.signerAddress },
      to: token.address,
      args: { ...accepted.args },
      request: accepted.request,
      debit: accepted.debit,
    };
    const debit = accepted.debit && at !== undefined ? { ...accepted.debit, at } : undefined;
    return { tokenId: t.id, kind: spec.kind, firm, request, debit };
  }

  /**
   * Two requests must not both spend the same balance: the debits of one (token, address) are
   * accepted one at a time, each re-checked against the others under a transaction lock.
   */
  private async confirm(em: EntityManager, c: Checked): Promise<void> {
    const debit = c.debit;
    if (!debit) return;
    await this.queue.lockDebits(em, c.tokenId, debit.address);
    const pending = await this.queue.pendingDebits(em, c.tokenId, debit.address, debit.at);
    if (debit.balance - pending < debit.amount) throw insufficient(debit.balance, pending, debit.amount);
    if (c.kind === 'withdraw' && c.firm && c.request.userId) {
      const [held, out] = await Promise.all([
        this.custody.held(em, c.tokenId, c.firm, c.request.userId),
        this.queue.pendingWithdrawals(em, c.tokenId, c.firm, c.request.userId),
      ]);
      if (held - out < debit.amount) throw custodyShort(held, out, debit.amount);
    }
  }

  /** The last approval of a pending row: its pre-checks again, as the requester, with the stored request. */
  private async recheck(row: PendingRow): Promise<Recheck> {
    const spec = OPERATION_BY_KIND.get(row.kind);
    if (!spec || !row.tokenId) throw new Error(`no operation ${row.kind} to re-check`);
    const p: Principal = { type: 'operator', id: row.requestedBy?.id ?? row.operatorId, loginId: '', operatorId: row.operatorId };
    const checked = await this.check(p, row.tokenId, spec, row.request);
    return {
      args: checked.request.args,
      debit: checked.debit && { address: checked.debit.address, amount: checked.debit.amount },
      confirm: (em) => this.confirm(em, checked),
    };
  }

  private async enqueue(em: EntityManager, q: QueueRequest): Promise<{ id: string; value: TransactionResponse }> {
    const id = randomUUID();
    return { id, value: await this.queue.enqueue(em, id, q) };
  }

  private async assertMayOperate(p: Principal, t: Token, spec: OperationSpec): Promise<void> {
    const firm = firmOf(p);
    if (!firm) {
      if (spec.who !== 'pauser') throw new AppError('FORBIDDEN', 'Admins may only pause and unpause tokens');
      return;
    }
    const granted = t.issuerId ? await this.issuers.isGranted(t.issuerId, firm) : false;
    if (spec.who === 'pauser') {
      if (t.operatorId !== firm || (t.issuerId && !granted))
        throw new AppError('FORBIDDEN', "Only the token's creating operator (while granted) or an admin may pause it");
      return;
    }
    if (t.issuerId ? !granted : t.operatorId !== firm) throw new NotFoundError('Token');
  }

  // ---- at signing -----------------------------------------------------------------------

  /** The call of each row, built now from its stored arguments; the requester must still be allowed to sign. */
  private async build(rows: readonly QueuedRow[]): Promise<BuiltCall[]> {
    const memo = new Map<string, Promise<unknown>>();
    const once = <T>(k: string, f: () => Promise<T>): Promise<T> => {
      if (!memo.has(k)) memo.set(k, f());
      return memo.get(k) as Promise<T>;
    };
    return Promise.all(
      rows.map(async (row): Promise<BuiltCall> => {
        // Suspended firms and revoked grants sign nothing, also for rows queued before.
        try {
          if (row.requestedByType === 'operator') await once(`active:${row.operatorId}`, () => this.operators.assertActive(row.operatorId));
          if (row.signerKind === 'issuer' && row.requestedByType === 'operator')
            await once(`grant:${row.signerId}:${row.operatorId}`, () => this.issuers.assertGranted(row.signerId, row.operatorId));
        } catch (e) {
          const code = e instanceof AppError ? e.code : 'FORBIDDEN';
          return { failed: true, code, message: 'the requester may no longer sign for this token' };
        }
        const args = (row.callArgs ?? {}) as CallArgs & Record<string, unknown>;
        if (row.kind === 'deploy') return { to: null, data: this.deployData(args, row.fromAddress, row.operatorId) };
        if (row.kind === 'custody-migration' && row.toAddress && args.from && args.to)
          return {
            to: row.toAddress,
            data: encodeFunctionData({
              abi: securityTokenAbi,
              functionName: 'forcedTransfer',
              args: [args.from, args.to, BigInt(args.amount ?? '0')],
            }),
          };
        const lot = BATCH_CALLS.get(row.kind);
        if (lot && row.toAddress)
          return { to: row.toAddress, data: encodeFunctionData({ abi: securityTokenAbi, ...lot((args.rows ?? []) as LotRow[]) }) };
        const spec = OPERATION_BY_KIND.get(row.kind);
        if (!spec || !row.toAddress) return { failed: true, code: 'INTERNAL', message: `no call is known for ${row.kind}` };
        const custody: Address = spec.custody
          ? await once(`custody:${row.operatorId}`, () => this.operators.custodyAddressOf(row.operatorId))
          : row.fromAddress;
        return { to: row.toAddress, data: encodeFunctionData({ abi: securityTokenAbi, ...spec.call(args, { custody }) }) };
      }),
    );
  }

  /**
   * Governance is the admin; the signing address at signing time is the agent; holder transfers
   * as asked at creation (default off); the creating firm's keyless custody address is on the
   * register from the start.
   */
  private deployData(args: Record<string, unknown>, agent: Address, firm: string): `0x${string}` {
    return encodeDeployData({
      abi: securityTokenAbi,
      bytecode: securityTokenBytecode,
      args: [
        String(args.name),
        String(args.symbol),
        Number(args.decimals),
        getAddress(String(args.governance)),
        agent,
        args.holderTransfers === true,
        custodyAddressOf(firm),
      ],
    });
  }

  private async onDeployFinal(em: EntityManager, final: readonly Transition[]): Promise<void> {
    for (const t of final)
      if (t.kind === 'deploy' && t.tokenId)
        await this.repo.setDeployed(em, t.tokenId, t.status === 'confirmed' ? t.contractAddress : undefined);
  }
}
