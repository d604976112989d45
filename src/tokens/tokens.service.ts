/**
 * Security tokens and their operations. Every operation becomes a queued Transaction
 * whose call is fixed at acceptance, after pre-checks that refuse what is already
 * impossible (no wallet, frozen receiver, paused, balance less pending debits, token
 * not active). What becomes impossible later ends as a failed transaction with the
 * decoded reason. Authority: an operator-signed token belongs to its creating operator;
 * an issuer-signed token to every operator currently granted the issuer.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { encodeDeployData, encodeFunctionData, getAddress, type Address } from 'viem';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, type Principal } from '../auth/principal';
import { ChainService, ChainUnavailableError } from '../chain/chain.service';
import { securityTokenAbi, securityTokenBytecode } from '../chain/contracts/security-token.abi';
import { custodyAddressOf } from '../chain/custody-address';
import { GasFunding } from '../chain/gas-funding';
import { AppError, NotFoundError } from '../common/app-error';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../health/metrics';
import { IssuerGrant } from '../issuers/entities/issuer-grant.entity';
import { IssuersService } from '../issuers/issuers.service';
import { SigningKeys } from '../kms/signing-keys';
import { OperatorsService } from '../operators/operators.service';
import { Transaction, type TxKind } from '../transactions/entities/transaction.entity';
import type { Created, Prepared } from '../transactions/idempotency';
import { toTxDto, type TransactionDto } from '../transactions/transactions.service';
import { UsersService } from '../users/users.service';
import { WalletIssuanceService } from '../users/wallet-issuance.service';
import { ReadinessContributors } from '../health/readiness-contributors';
import { GovernanceKey } from './entities/governance-key.entity';
import { Token } from './entities/token.entity';

export interface TokenDto {
  id: string;
  operatorId: string;
  issuerId: string | null;
  name: string;
  symbol: string;
  decimals: number;
  signer: { kind: 'operator' | 'issuer'; id: string; address: string };
  address: string | null;
  status: 'deploying' | 'active' | 'failed';
  deployTransactionId: string;
  totalSupply?: string;
  paused?: boolean;
  createdAt: string;
}

export function toTokenDto(t: Token): TokenDto {
  return {
    id: t.id,
    operatorId: t.operatorId,
    issuerId: t.issuerId,
    name: t.name,
    symbol: t.symbol,
    decimals: t.decimals,
    signer: { kind: t.signerKind, id: t.signerId, address: t.signerAddress },
    address: t.address,
    status: t.status,
    deployTransactionId: t.deployTransactionId,
    createdAt: t.createdAt.toISOString(),
  };
}

interface Enqueue {
  token: Token;
  kind: TxKind;
  principal: Principal;
  userId?: string | null;
  data: `0x${string}`;
  request: Record<string, unknown>;
  /** What the operation takes from `address`, and that address's balance at the block the pre-checks read. */
  debit?: { address: string; amount: bigint; balance: bigint };
}

const insufficient = (balance: bigint, pending: bigint, amount: bigint) =>
  new AppError('INSUFFICIENT_BALANCE', `Balance ${balance} less pending debits ${pending} is below ${amount}`);
const custodyShort = (held: bigint, pending: bigint, amount: bigint) =>
  new AppError('INSUFFICIENT_BALANCE', `The user's custody balance ${held} less pending withdrawals ${pending} is below ${amount}`);

@Injectable()
export class TokensService implements OnModuleInit {
  constructor(
    private readonly ds: DataSource,
    private readonly chain: ChainService,
    private readonly users: UsersService,
    private readonly issuers: IssuersService,
    private readonly operators: OperatorsService,
    private readonly keys: SigningKeys,
    private readonly gas: GasFunding,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
    private readonly wallets: WalletIssuanceService,
    private readonly readiness: ReadinessContributors,
    metrics: Metrics,
  ) {
    this.reconciliation = metrics.gauge(
      'kagi_custody_reconciliation_difference',
      'On-chain custody balance minus the custody ledger, per token (0 = reconciled)',
      ['token'],
    );
  }

  private readonly reconciliation;
  /**
   * Active tokens by id. Nothing an operation reads of a token (owner, issuer, signer, address)
   * changes once it is active, and it never leaves that state; grants are still checked live.
   */
  private readonly activeTokens = new Map<string, Token>();

  onModuleInit(): void {
    this.wallets.setListener({ onWalletReissued: (e) => this.onWalletReissued(e) });
    // Custody reconciliation is reported in readiness details (a mismatch is a finding for ops, not an outage).
    this.readiness.add('custody', async () => {
      const rows = await this.ds.query<Array<{ token_id: string; address: string | null; custody_address: string; s: string }>>(
        `SELECT c.token_id, t.address, o.custody_address, sum(c.amount)::text AS s
           FROM custody_entries c JOIN tokens t ON t.id = c.token_id JOIN operators o ON o.id = c.operator_id
          GROUP BY c.token_id, t.address, o.custody_address`,
      );
      let mismatches = 0;
      for (const r of rows) {
        if (!r.address) continue;
        const onChain = await this.read<bigint>(getAddress(r.address), 'balanceOf', [getAddress(r.custody_address)]);
        const diff = onChain - BigInt(r.s);
        this.reconciliation.set({ token: r.token_id }, Number(diff));
        if (diff !== 0n) mismatches++;
      }
      return { custodyLedgers: rows.length, mismatches };
    });
  }

  /** Validates and returns a function that stores the token and its deploy transaction in `em`. */
  async prepareCreate(
    p: Principal,
    dto: { name: string; symbol: string; decimals: number; issuerId?: string },
  ): Promise<Prepared<TokenDto>> {
    let signer: { kind: 'operator' | 'issuer'; id: string; address: `0x${string}` };
    if (dto.issuerId) {
      const issuer = await this.issuers.assertGranted(dto.issuerId.toLowerCase(), p.id);
      signer = { kind: 'issuer', id: issuer.id, address: issuer.signerAddress };
    } else {
      const op = await this.operators.get(p.id, p);
      signer = { kind: 'operator', id: p.id, address: getAddress(op.signerAddress) };
    }
    const governance = await this.governanceAddress();
    const data = encodeDeployData({
      abi: securityTokenAbi,
      bytecode: securityTokenBytecode,
      args: [dto.name, dto.symbol, dto.decimals, governance, signer.address, false, custodyAddressOf(p.id)],
    });
    return {
      write: async (em) => {
        const tokenId = randomUUID();
        const txId = randomUUID();
        await em.getRepository(Token).insert({
          id: tokenId,
          operatorId: p.id,
          issuerId: signer.kind === 'issuer' ? signer.id : null,
          name: dto.name,
          symbol: dto.symbol,
          decimals: dto.decimals,
          signerKind: signer.kind,
          signerId: signer.id,
          signerAddress: signer.address,
          address: null,
          status: 'deploying',
          deployTransactionId: txId,
        });
        await this.insertTx(em, txId, {
          tokenId,
          kind: 'deploy',
          principal: p,
          signer,
          toAddress: null,
          data,
          request: { name: dto.name, symbol: dto.symbol, decimals: dto.decimals, issuerId: dto.issuerId ?? null, governance },
        });
        return { id: tokenId };
      },
    };
  }

  async list(p: Principal, q: PageQuery): Promise<Page<TokenDto>> {
    const qb = this.ds.getRepository(Token).createQueryBuilder('t');
    if (p.type === 'operator')
      qb.andWhere('(t.operator_id = :me OR t.issuer_id IN (SELECT g.issuer_id FROM issuer_grants g WHERE g.operator_id = :me))', {
        me: p.id,
      });
    return paginate(qb, q, toTokenDto);
  }

  async get(p: Principal, id: string, withChain = true): Promise<TokenDto> {
    const t = await this.visible(p, id);
    const dto = toTokenDto(t);
    if (withChain && t.status === 'active' && t.address) {
      const [totalSupply, paused] = await Promise.all([
        this.read<bigint>(t.address, 'totalSupply'),
        this.read<boolean>(t.address, 'paused'),
      ]);
      dto.totalSupply = totalSupply.toString();
      dto.paused = paused;
    }
    return dto;
  }

  async balance(
    p: Principal,
    id: string,
    userId: string,
  ): Promise<{ userId: string; address: string | null; balance: string; frozen: boolean; custodyBalance: string }> {
    const t = await this.visible(p, id);
    const user = p.type === 'operator' ? await this.users.getOwnedUser(p.id, userId) : await this.users.get(p, userId);
    const address = user.walletAddress;
    if (!address || !t.address || t.status !== 'active')
      return { userId, address: address ?? null, balance: '0', frozen: false, custodyBalance: '0' };
    const [bal, frozen] = await Promise.all([
      this.read<bigint>(t.address, 'balanceOf', [address]),
      this.read<boolean>(t.address, 'isFrozen', [address]),
    ]);
    const [c] = await this.ds.query<Array<{ s: string | null }>>(
      'SELECT sum(amount)::text AS s FROM custody_entries WHERE token_id = $1 AND user_id = $2',
      [t.id, userId],
    );
    return { userId, address, balance: bal.toString(), frozen, custodyBalance: c?.s ?? '0' };
  }

  /** The custody ledger of the operator's custody address, with the on-chain balance to reconcile against. */
  async custody(
    p: Principal,
    id: string,
  ): Promise<{ custodyAddress: string; onChainBalance: string; items: Array<{ userId: string; amount: string }> }> {
    const t = await this.visible(p, id);
    const operatorId = p.type === 'operator' ? p.id : t.operatorId;
    const custodyAddress = await this.custodyAddressOf(operatorId);
    const onChain = t.address && t.status === 'active' ? await this.read<bigint>(t.address, 'balanceOf', [custodyAddress]) : 0n;
    const rows = await this.ds.query<Array<{ user_id: string; amount: string }>>(
      `SELECT user_id, amount::text AS amount FROM custody_entries WHERE token_id = $1 AND operator_id = $2 AND amount <> 0 ORDER BY user_id`,
      [t.id, operatorId],
    );
    const ledger = rows.reduce((sum, r) => sum + BigInt(r.amount), 0n);
    this.reconciliation.set({ token: t.id }, Number(onChain - ledger));
    return { custodyAddress, onChainBalance: onChain.toString(), items: rows.map((r) => ({ userId: r.user_id, amount: r.amount })) };
  }

  /** The holder register at a block: the operator's users (admins: every user with a wallet). */
  async holders(
    p: Principal,
    id: string,
    blockNumber?: bigint,
  ): Promise<{ blockNumber: string; items: Array<{ userId: string; address: string; balance: string; custodyBalance: string }> }> {
    const t = await this.visible(p, id);
    if (!t.address || t.status !== 'active') throw new AppError('TOKEN_NOT_ACTIVE', `The token is ${t.status}`);
    const head = await this.chain.client.getBlockNumber().catch(() => {
      throw new ChainUnavailableError();
    });
    const at = blockNumber !== undefined && blockNumber <= head ? blockNumber : head;
    const users = await this.ds.query<Array<{ id: string; wallet_address: string }>>(
      `SELECT id, wallet_address FROM users WHERE wallet_address IS NOT NULL ${p.type === 'operator' ? 'AND operator_id = $1' : ''} ORDER BY created_at, id`,
      p.type === 'operator' ? [p.id] : [],
    );
    // Custody balances as of that block, from the confirmed deposits and withdrawals mined up to it.
    const custody = await this.ds.query<Array<{ user_id: string; s: string }>>(
      `SELECT user_id, sum(CASE kind WHEN 'deposit' THEN (request->>'amount')::numeric ELSE -(request->>'amount')::numeric END)::text AS s
         FROM transactions WHERE token_id = $1 AND status = 'confirmed' AND kind IN ('deposit', 'withdraw') AND block_number <= $2
        GROUP BY user_id`,
      [t.id, at.toString()],
    );
    const cmap = new Map(custody.map((c) => [c.user_id, c.s]));
    const items: Array<{ userId: string; address: string; balance: string; custodyBalance: string }> = [];
    for (const u of users) {
      const address = getAddress(u.wallet_address);
      let balance: bigint;
      try {
        balance = await this.chain.client.readContract({
          address: t.address,
          abi: securityTokenAbi,
          functionName: 'balanceOf',
          args: [address],
          blockNumber: at,
        });
      } catch {
        throw new ChainUnavailableError();
      }
      const custodyBalance = cmap.get(u.id) ?? '0';
      if (balance > 0n || custodyBalance !== '0') items.push({ userId: u.id, address, balance: balance.toString(), custodyBalance });
    }
    return { blockNumber: at.toString(), items };
  }

  /** Signers with queue depth, next nonce and gas (admins). */
  async signers(): Promise<{
    items: Array<{
      address: string;
      kind: string;
      ownerId: string;
      queued: number;
      oldestQueuedAt: string | null;
      nextNonce: number | null;
      gasBalance: string;
    }>;
  }> {
    const rows = await this.ds.query<
      Array<{ address: string; kind: string; owner_id: string; queued: number; oldest: Date | null; next_nonce: number | null }>
    >(
      `SELECT s.address, s.kind, s.owner_id,
              (SELECT count(*)::int FROM transactions t WHERE t.from_address = s.address AND t.status = 'queued') AS queued,
              (SELECT min(created_at) FROM transactions t WHERE t.from_address = s.address AND t.status = 'queued') AS oldest,
              n.next_nonce
         FROM (SELECT signer_address AS address, 'operator' AS kind, id AS owner_id FROM operators
               UNION ALL SELECT signer_address, 'issuer', id FROM issuers) s
         LEFT JOIN signer_nonces n ON n.address = s.address
        ORDER BY s.kind, s.address`,
    );
    const items = [];
    for (const r of rows) {
      const gas = await this.chain.client.getBalance({ address: getAddress(r.address) }).catch(() => {
        throw new ChainUnavailableError();
      });
      items.push({
        address: r.address,
        kind: r.kind,
        ownerId: r.owner_id,
        queued: r.queued,
        oldestQueuedAt: r.oldest ? new Date(r.oldest).toISOString() : null,
        nextNonce: r.next_nonce,
        gasBalance: gas.toString(),
      });
    }
    return { items };
  }

  /** A reissued wallet: queue a freeze of the old address on every token where it holds a balance. */
  async onWalletReissued(e: { userId: string; operatorId: string; oldAddress: Address }): Promise<void> {
    const tokens = await this.ds.query<Array<{ id: string }>>(
      `SELECT id FROM tokens WHERE status = 'active' AND (operator_id = $1 OR issuer_id IN (SELECT issuer_id FROM issuer_grants WHERE operator_id = $1))`,
      [e.operatorId],
    );
    const p: Principal = { type: 'operator', id: e.operatorId, loginId: '' };
    for (const { id } of tokens) {
      const t = await this.visible(p, id);
      const bal = await this.read<bigint>(t.address!, 'balanceOf', [e.oldAddress]).catch(() => 0n);
      const frozen = await this.read<boolean>(t.address!, 'isFrozen', [e.oldAddress]).catch(() => true);
      if (bal === 0n || frozen) continue;
      const data = encodeFunctionData({ abi: securityTokenAbi, functionName: 'setAddressFrozen', args: [e.oldAddress, true] });
      await this.ds.transaction((em) =>
        this.insertTx(em, randomUUID(), {
          tokenId: t.id,
          kind: 'freeze',
          principal: p,
          userId: e.userId,
          signer: { kind: t.signerKind, id: t.signerId, address: t.signerAddress },
          toAddress: t.address,
          data,
          request: { userId: e.userId, address: e.oldAddress, reason: 'wallet reissued' },
        }),
      );
    }
  }

  // ---- operations --------------------------------------------------------------------

  async prepareOperation(p: Principal, tokenId: string, kind: TxKind, body: Record<string, unknown>): Promise<Prepared<TransactionDto>> {
    const t = await this.visible(p, tokenId);
    await this.assertMayOperate(p, t, kind);
    if (t.status !== 'active' || !t.address) throw new AppError('TOKEN_NOT_ACTIVE', `The token is ${t.status}`);
    const token = t.address;
    // The named users first (database); then every chain read of the operation starts in the
    // same tick, so viem sends them as one JSON-RPC batch. Refusals keep their order: paused,
    // then the users, then frozen receivers, then balances.
    const named = (['userId', 'fromUserId', 'toUserId'] as const).filter((f) => typeof body[f] === 'string');
    const [found, custodyAddress] = await Promise.all([
      Promise.all(
        named.map((f) =>
          this.users.getOwnedUser(p.id, String(body[f]).toLowerCase()).then(
            (u) => ({ u }),
            (error: unknown) => ({ error }),
          ),
        ),
      ),
      kind === 'deposit' || kind === 'withdraw' ? this.custodyAddressOf(p.id) : undefined,
    ]);
    const wallets = new Map<string, { id: string; address: Address; previous: string[] } | undefined>();
    for (const [i, f] of named.entries()) {
      const r = found[i]!;
      wallets.set(
        f,
        'u' in r && r.u.walletAddress
          ? { id: r.u.id, address: getAddress(r.u.walletAddress), previous: r.u.previousWalletAddresses }
          : undefined,
      );
    }
    // Operations that take tokens from an address read the chain at one block, so the balance
    // and the debits counted against it (below) meet exactly: a debit mined after that block is
    // still counted as pending.
    const debits = kind === 'redeem' || kind === 'forced-transfer' || kind === 'deposit' || kind === 'withdraw' || kind === 'recover';
    const at = debits ? await this.chain.client.getBlockNumber().catch(() => Promise.reject(new ChainUnavailableError())) : undefined;
    const settle = <T>(x: Promise<T>) => {
      x.catch(() => undefined); // awaited below unless an earlier refusal ends the request
      return x;
    };
    const pausedRead = settle(this.read<boolean>(token, 'paused', [], at));
    const frozenRead = (a: Address | undefined) => settle(a ? this.read<boolean>(token, 'isFrozen', [a], at) : Promise.resolve(false));
    const debitRead = (a: Address | undefined) =>
      settle(
        a
          ? Promise.all([this.read<bigint>(token, 'balanceOf', [a], at), this.pendingDebits(this.ds.manager, t.id, a, at!)])
          : Promise.resolve<[bigint, bigint]>([0n, 0n]),
      );
    /** Paused first, then every named user must exist (404 otherwise) and have a wallet. */
    const admissible = async () => {
      if ((await pausedRead) && kind !== 'unpause') throw new AppError('TOKEN_PAUSED', 'The token is paused');
      for (const r of found) {
        if ('error' in r) throw r.error;
        if (!r.u.walletAddress) throw new AppError('WALLET_NOT_ISSUED', `User ${r.u.id} has no wallet yet`);
      }
    };
    const wallet = (f: 'userId' | 'fromUserId' | 'toUserId') => wallets.get(f)!;
    const notFrozen = async (read: Promise<boolean>, a: Address) => {
      if (await read) throw new AppError('ADDRESS_FROZEN', `Address ${a} is frozen`);
    };
    /** Refuses unless the balance less pending debits covers `amount`; returns the balance. */
    const enough = async (read: Promise<readonly [bigint, bigint]>, amount: bigint) => {
      const [bal, pending] = await read;
      if (bal - pending < amount) throw insufficient(bal, pending, amount);
      return bal;
    };
    const amount = typeof body.amount === 'string' ? BigInt(body.amount) : 0n;
    const fn = (functionName: string, args: readonly unknown[]) =>
      encodeFunctionData({ abi: securityTokenAbi, functionName: functionName as never, args: args });
    let e: Omit<Enqueue, 'token' | 'principal'>;
    switch (kind) {
      case 'issue': {
        const frozen = frozenRead(wallets.get('userId')?.address);
        await admissible();
        const u = wallet('userId');
        await notFrozen(frozen, u.address);
        e = { kind, userId: u.id, data: fn('mint', [u.address, amount]), request: { userId: u.id, amount: body.amount } };
        break;
      }
      case 'redeem': {
        const debit = debitRead(wallets.get('userId')?.address);
        await admissible();
        const u = wallet('userId');
        const balance = await enough(debit, amount);
        e = {
          kind,
          userId: u.id,
          data: fn('burn', [u.address, amount]),
          request: { userId: u.id, amount: body.amount, reason: body.reason ?? null },
          debit: { address: u.address, amount, balance },
        };
        break;
      }
      case 'forced-transfer': {
        const frozen = frozenRead(wallets.get('toUserId')?.address);
        const debit = debitRead(wallets.get('fromUserId')?.address);
        await admissible();
        const from = wallet('fromUserId');
        const to = wallet('toUserId');
        if (from.address === to.address)
          throw new AppError('VALIDATION_FAILED', 'fromUserId and toUserId are the same wallet', {
            errors: [{ field: 'toUserId', message: 'must differ from fromUserId' }],
          });
        await notFrozen(frozen, to.address);
        const balance = await enough(debit, amount);
        e = {
          kind,
          userId: from.id,
          data: fn('forcedTransfer', [from.address, to.address, amount]),
          request: { fromUserId: from.id, toUserId: to.id, amount: body.amount, reason: body.reason },
          debit: { address: from.address, amount, balance },
        };
        break;
      }
      case 'deposit': {
        const custody = custodyAddress!;
        const frozen = frozenRead(custody);
        const debit = debitRead(wallets.get('userId')?.address);
        await admissible();
        const u = wallet('userId');
        await notFrozen(frozen, custody);
        const balance = await enough(debit, amount);
        e = {
          kind,
          userId: u.id,
          data: fn('forcedTransfer', [u.address, custody, amount]),
          request: { userId: u.id, amount: body.amount, custodyAddress: custody },
          debit: { address: u.address, amount, balance },
        };
        break;
      }
      case 'withdraw': {
        const custody = custodyAddress!;
        const frozen = frozenRead(wallets.get('userId')?.address);
        const debit = debitRead(custody);
        const userId = wallets.get('userId')?.id;
        const own = settle(
          userId ? this.custodyAvailable(this.ds.manager, t.id, p.id, userId) : Promise.resolve<[bigint, bigint]>([0n, 0n]),
        );
        await admissible();
        const u = wallet('userId');
        await notFrozen(frozen, u.address);
        const [held, pendingOut] = await own;
        if (held - pendingOut < amount) throw custodyShort(held, pendingOut, amount);
        const balance = await enough(debit, amount);
        e = {
          kind,
          userId: u.id,
          data: fn('forcedTransfer', [custody, u.address, amount]),
          request: { userId: u.id, amount: body.amount, custodyAddress: custody },
          debit: { address: custody, amount, balance },
        };
        break;
      }
      case 'recover': {
        const previous = (wallets.get('userId')?.previous ?? []).map((a) => getAddress(a));
        const debits = previous.map((a) => debitRead(a));
        const frozen = frozenRead(wallets.get('userId')?.address);
        await admissible();
        const u = wallet('userId');
        let lost: { address: Address; balance: bigint } | undefined;
        for (const [i, a] of previous.entries()) {
          const [balance, pending] = await debits[i]!;
          if (balance - pending > 0n) {
            lost = { address: a, balance };
            break;
          }
        }
        if (!lost) throw new AppError('NOTHING_TO_RECOVER', 'No previous wallet of this user holds this token');
        await notFrozen(frozen, u.address);
        e = {
          kind,
          userId: u.id,
          data: fn('recoveryAddress', [lost.address, u.address]),
          request: { userId: u.id, from: lost.address, to: u.address },
          debit: { address: lost.address, amount: lost.balance, balance: lost.balance },
        };
        break;
      }
      case 'freeze':
      case 'unfreeze': {
        await admissible();
        const u = wallet('userId');
        e = { kind, userId: u.id, data: fn('setAddressFrozen', [u.address, kind === 'freeze']), request: { userId: u.id } };
        break;
      }
      case 'pause':
        await admissible();
        e = { kind, data: fn('pause', []), request: {} };
        break;
      case 'unpause':
        if (!(await pausedRead))
          throw new AppError('VALIDATION_FAILED', 'The token is not paused', { errors: [{ field: 'token', message: 'not paused' }] });
        e = { kind, data: fn('unpause', []), request: {} };
        break;
      default:
        throw new NotFoundError('Operation');
    }
    const x = {
      tokenId: t.id,
      kind: e.kind,
      principal: p,
      userId: e.userId ?? null,
      signer: { kind: t.signerKind, id: t.signerId, address: t.signerAddress },
      toAddress: token,
      data: e.data,
      request: e.request,
      debit: e.debit,
    };
    const debit = e.debit;
    if (!debit || at === undefined) return { write: (em) => this.insertTx(em, randomUUID(), x), singleStatement: true };
    // Two requests must not both spend the same balance: the debits of one (token, address) are
    // accepted one at a time, each re-checked against the others under a transaction lock.
    return {
      write: async (em) => {
        await em.query(`SELECT pg_advisory_xact_lock(hashtext('kagi-debit:' || $1 || ':' || $2))`, [t.id, debit.address]);
        const pending = await this.pendingDebits(em, t.id, debit.address, at);
        if (debit.balance - pending < debit.amount) throw insufficient(debit.balance, pending, debit.amount);
        if (kind === 'withdraw' && x.userId) {
          const [held, pendingOut] = await this.custodyAvailable(em, t.id, p.id, x.userId);
          if (held - pendingOut < debit.amount) throw custodyShort(held, pendingOut, debit.amount);
        }
        return this.insertTx(em, randomUUID(), x);
      },
    };
  }

  // ---- helpers -----------------------------------------------------------------------

  /** The queued row and its audit event, in one statement; answers the Transaction without reading it back. */
  private async insertTx(
    em: EntityManager,
    id: string,
    x: {
      tokenId: string;
      kind: TxKind;
      principal: Principal;
      userId?: string | null;
      signer: { kind: 'operator' | 'issuer'; id: string; address: `0x${string}` };
      toAddress: `0x${string}` | null;
      data: `0x${string}`;
      request: Record<string, unknown>;
      debit?: { address: string; amount: bigint };
    },
  ): Promise<Created<TransactionDto>> {
    const row = {
      id,
      tokenId: x.tokenId,
      kind: x.kind,
      status: 'queued' as const,
      operatorId: x.principal.id,
      requestedByType: x.principal.type,
      userId: x.userId ?? null,
      signerKind: x.signer.kind,
      signerId: x.signer.id,
      fromAddress: x.signer.address,
      toAddress: x.toAddress,
      callData: x.data,
      debitAddress: x.debit?.address ?? null,
      debitAmount: x.debit ? x.debit.amount.toString() : null,
      request: x.request,
    };
    const [stamps] = await this.audit.recordWith<{ created_at: Date; updated_at: Date }>(
      {
        actor: actorOf(x.principal),
        operatorId: x.principal.type === 'operator' ? x.principal.id : null,
        action: 'transaction.queued',
        subject: { type: 'transaction', id },
        outcome: 'success',
        details: { kind: x.kind, tokenId: x.tokenId },
      },
      {
        sql: `INSERT INTO transactions (id, token_id, kind, status, operator_id, requested_by_type, user_id, signer_kind, signer_id, from_address, to_address, call_data, debit_address, debit_amount, request, attempts, next_attempt_at)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, 0, now()) RETURNING created_at, updated_at`,
        params: [
          row.id,
          row.tokenId,
          row.kind,
          row.status,
          row.operatorId,
          row.requestedByType,
          row.userId,
          row.signerKind,
          row.signerId,
          row.fromAddress,
          row.toAddress,
          row.callData,
          row.debitAddress,
          row.debitAmount,
          JSON.stringify(row.request),
        ],
      },
      em,
    );
    if (x.kind === 'deploy') return { id: x.tokenId };
    const tx: Transaction = {
      ...row,
      nonce: null,
      txHash: null,
      rawTx: null,
      replacedHashes: null,
      blockNumber: null,
      attempts: 0,
      error: null,
      nextAttemptAt: stamps!.created_at,
      submittedAt: null,
      createdAt: stamps!.created_at,
      updatedAt: stamps!.updated_at,
    };
    return { id, value: toTxDto(tx) };
  }

  /** The operator's custody address (its signing address unless configured otherwise). */
  private async custodyAddressOf(operatorId: string): Promise<Address> {
    const [r] = await this.ds.query<Array<{ custody_address: string }>>('SELECT custody_address FROM operators WHERE id = $1', [
      operatorId,
    ]);
    if (!r) throw new NotFoundError('Operator');
    return getAddress(r.custody_address);
  }

  async custodyBalance(tokenId: string, operatorId: string, userId: string): Promise<bigint> {
    return (await this.custodyAvailable(this.ds.manager, tokenId, operatorId, userId))[0];
  }

  /** A user's custody balance (confirmed ledger) and the withdrawals of it still pending. */
  private async custodyAvailable(em: EntityManager, tokenId: string, operatorId: string, userId: string): Promise<[bigint, bigint]> {
    const [r] = await em.query<Array<{ held: string | null; pending: string | null }>>(
      `SELECT (SELECT amount::text FROM custody_entries WHERE token_id = $1 AND operator_id = $2 AND user_id = $3) AS held,
              (SELECT sum(debit_amount)::text FROM transactions WHERE token_id = $1 AND operator_id = $2 AND user_id = $3 AND kind = 'withdraw' AND status IN ('queued', 'submitted')) AS pending`,
      [tokenId, operatorId, userId],
    );
    return [BigInt(r?.held ?? '0'), BigInt(r?.pending ?? '0')];
  }

  /**
   * Debits of `address` not yet in its balance as of block `at`: those not mined yet, and
   * those confirmed in a later block.
   */
  private async pendingDebits(em: EntityManager, tokenId: string, address: string, at: bigint): Promise<bigint> {
    const [r] = await em.query<Array<{ s: string | null }>>(
      `SELECT sum(debit_amount)::text AS s FROM (
         SELECT debit_amount FROM transactions WHERE token_id = $1 AND debit_address = $2 AND status IN ('queued', 'submitted')
         UNION ALL
         SELECT debit_amount FROM transactions WHERE token_id = $1 AND debit_address = $2 AND status = 'confirmed' AND block_number > $3) d`,
      [tokenId, address, at.toString()],
    );
    return BigInt(r?.s ?? '0');
  }

  private async read<T>(address: `0x${string}`, functionName: string, args: readonly unknown[] = [], blockNumber?: bigint): Promise<T> {
    try {
      return await this.chain.client.readContract({
        address,
        abi: securityTokenAbi,
        functionName: functionName as never,
        args: args,
        blockNumber,
      });
    } catch {
      throw new ChainUnavailableError();
    }
  }

  /** Tokens an operator may see: its own, and its granted issuers'. Anything else is 404. */
  private async visible(p: Principal, id: string): Promise<Token> {
    const t = this.activeTokens.get(id) ?? (await this.ds.getRepository(Token).findOneBy({ id }));
    if (!t) throw new NotFoundError('Token');
    if (t.status === 'active' && !this.activeTokens.has(id)) {
      if (this.activeTokens.size >= 10_000) this.activeTokens.delete(this.activeTokens.keys().next().value!);
      this.activeTokens.set(id, t);
    }
    if (p.type === 'admin' || t.operatorId === p.id) return t;
    if (t.issuerId && (await this.ds.getRepository(IssuerGrant).existsBy({ issuerId: t.issuerId, operatorId: p.id }))) return t;
    throw new NotFoundError('Token');
  }

  private async assertMayOperate(p: Principal, t: Token, kind: TxKind): Promise<void> {
    const pauseKind = kind === 'pause' || kind === 'unpause';
    if (p.type === 'admin') {
      if (!pauseKind) throw new AppError('FORBIDDEN', 'Admins may only pause and unpause tokens');
      return;
    }
    const granted = t.issuerId ? await this.ds.getRepository(IssuerGrant).existsBy({ issuerId: t.issuerId, operatorId: p.id }) : false;
    if (pauseKind) {
      if (t.operatorId !== p.id || (t.issuerId && !granted))
        throw new AppError('FORBIDDEN', "Only the token's creating operator (while granted) or an admin may pause it");
      return;
    }
    if (t.issuerId ? !granted : t.operatorId !== p.id) throw new NotFoundError('Token');
  }

  /** The token contracts' admin: GOVERNANCE_ADDRESS, or (dev/test) a sealed platform governance key. */
  private async governanceAddress(): Promise<`0x${string}`> {
    if (this.config.chain.governanceAddress) return this.config.chain.governanceAddress;
    const existing = await this.ds.getRepository(GovernanceKey).findOne({ where: {}, order: { createdAt: 'ASC' } });
    if (existing) return existing.address;
    const id = randomUUID();
    const { address, sealed } = await this.keys.create({ kind: 'governance', id });
    // One governance key even when two instances create their first token at once.
    const winner = await this.ds.transaction(async (em) => {
      await em.query(`SELECT pg_advisory_xact_lock(hashtext('kagi-governance'))`);
      const again = await em.getRepository(GovernanceKey).findOne({ where: {}, order: { createdAt: 'ASC' } });
      if (again) return again.address;
      await em
        .getRepository(GovernanceKey)
        .insert({ id, address, encryptedKey: sealed.encryptedKey, encryptedDataKey: sealed.encryptedDataKey, kmsKeyId: sealed.kmsKeyId });
      return address;
    });
    if (winner !== address) return winner;
    await this.gas.fund(address);
    return address;
  }
}
