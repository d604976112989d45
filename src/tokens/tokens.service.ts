/**
 * Security tokens: creation (a queued deployment), the registry and what is read of each
 * token (supply, balances, custody, the holder register). Authority: an operator-signed token
 * belongs to its creating firm; an issuer-signed token to every firm currently granted the
 * issuer. Token operations are in operations/ (the catalogue).
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { getAddress } from 'viem';
import type { Principal } from '../common/principal';
import { AppError, NotFoundError } from '../common/app-error';
import type { Prepared } from '../common/idempotency/idempotency';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { firmOf, requireFirm } from '../common/principal';
import { GovernanceService } from '../governance/governance.service';
import { IssuersService } from '../issuers/issuers.service';
import { OperatorsService } from '../operators/operators.service';
import { TransactionQueue } from '../transactions/queue';
import { UsersService } from '../users/users.service';
import { toTokenDto, type TokenResponse } from './dto/token.response';
import type { Token } from './entities/token.entity';
import { CustodyLedger } from './custody-ledger';
import { TokenReads } from './token-reads';
import { TokensRepository } from './tokens.repository';

export interface HolderRow {
  userId: string;
  address: string;
  balance: string;
  custodyBalance: string;
}

/** How long an instance trusts a cached active token (its signer address changes in a key rotation). */
const CACHE_MS = 2_000;

@Injectable()
export class TokensService {
  /**
   * Active tokens by id. Nothing an operation reads of a token (owner, issuer, signer, address)
   * changes once it is active, except the signer's address in a key rotation (repointSigner
   * clears it here; other instances keep it for CACHE_MS at most); grants are still checked live.
   */
  private readonly activeTokens = new Map<string, { t: Token; at: number }>();

  constructor(
    private readonly repo: TokensRepository,
    private readonly reads: TokenReads,
    private readonly users: UsersService,
    private readonly issuers: IssuersService,
    private readonly operators: OperatorsService,
    private readonly queue: TransactionQueue,
    private readonly custodyLedger: CustodyLedger,
    private readonly governance: GovernanceService,
  ) {}

  /** Validates and returns a function that stores the token and its deploy transaction in `em`. */
  async prepareCreate(
    p: Principal,
    dto: { name: string; symbol: string; decimals: number; issuerId?: string; holderTransfers?: boolean },
  ): Promise<Prepared<TokenResponse>> {
    const firm = requireFirm(p);
    let signer: { kind: 'operator' | 'issuer'; id: string; address: `0x${string}` };
    if (dto.issuerId) {
      const issuer = await this.issuers.assertGranted(dto.issuerId.toLowerCase(), firm);
      signer = { kind: 'issuer', id: issuer.id, address: issuer.signerAddress };
    } else {
      const op = await this.operators.get(firm, p);
      signer = { kind: 'operator', id: firm, address: getAddress(op.signerAddress) };
    }
    const governance = await this.governanceAddress();
    return {
      write: async (em) => {
        const tokenId = randomUUID();
        const txId = randomUUID();
        await this.repo.insert(em, {
          id: tokenId,
          operatorId: firm,
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
          contractVersion: 2,
          holderTransfers: dto.holderTransfers ?? false,
        });
        await this.queue.enqueue(em, txId, {
          tokenId,
          kind: 'deploy',
          principal: p,
          signer,
          to: null,
          args: { name: dto.name, symbol: dto.symbol, decimals: dto.decimals, governance, holderTransfers: dto.holderTransfers ?? false },
          request: {
            name: dto.name,
            symbol: dto.symbol,
            decimals: dto.decimals,
            issuerId: dto.issuerId ?? null,
            holderTransfers: dto.holderTransfers ?? false,
            governance,
          },
        });
        return { id: tokenId };
      },
    };
  }

  list(p: Principal, q: PageQuery): Promise<Page<TokenResponse>> {
    return paginate(this.repo.visible(firmOf(p)), q, toTokenDto);
  }

  async get(p: Principal, id: string, withChain = true): Promise<TokenResponse> {
    const t = await this.visible(p, id);
    const dto = toTokenDto(t);
    if (withChain && t.status === 'active' && t.address) {
      const [totalSupply, paused, governancePaused] = await Promise.all([
        this.reads.totalSupply(t.address),
        this.reads.paused(t.address),
        t.contractVersion >= 2 ? this.reads.governancePaused(t.address) : Promise.resolve(undefined),
      ]);
      dto.totalSupply = totalSupply.toString();
      dto.paused = paused;
      if (governancePaused !== undefined) dto.governancePaused = governancePaused;
    }
    return dto;
  }

  async balance(
    p: Principal,
    id: string,
    userId: string,
  ): Promise<{ userId: string; address: string | null; balance: string; frozen: boolean; custodyBalance: string }> {
    const t = await this.visible(p, id);
    const firm = firmOf(p);
    const user = firm ? await this.users.getOwnedUser(firm, userId) : await this.users.get(p, userId);
    const address = user.walletAddress ? getAddress(user.walletAddress) : null;
    if (!address || !t.address || t.status !== 'active')
      return { userId, address: address ?? null, balance: '0', frozen: false, custodyBalance: '0' };
    const [bal, frozen, custodyBalance] = await Promise.all([
      this.reads.balanceOf(t.address, address),
      this.reads.isFrozen(t.address, address),
      this.repo.userCustody(t.id, userId),
    ]);
    return { userId, address, balance: bal.toString(), frozen, custodyBalance };
  }

  /** The custody ledger of the firm's custody address, with the on-chain balance to reconcile against. */
  async custody(
    p: Principal,
    id: string,
  ): Promise<{ custodyAddress: string; onChainBalance: string; items: Array<{ userId: string; amount: string }> }> {
    const t = await this.visible(p, id);
    return this.custodyLedger.view(t, firmOf(p) ?? t.operatorId);
  }

  /** The holder register at a block: the firm's users (admins: every user with a wallet). */
  async holders(p: Principal, id: string, blockNumber?: bigint): Promise<{ blockNumber: string; items: HolderRow[] }> {
    const t = await this.visible(p, id);
    if (!t.address || t.status !== 'active') throw new AppError('TOKEN_NOT_ACTIVE', `The token is ${t.status}`);
    const head = await this.reads.head();
    const at = blockNumber !== undefined && blockNumber <= head ? blockNumber : head;
    const [users, custody] = await Promise.all([this.users.withWallets(firmOf(p)), this.queue.custodyAt(t.id, at)]);
    const balances = await Promise.all(users.map((u) => this.reads.balanceOf(t.address!, getAddress(u.walletAddress), at)));
    const items: HolderRow[] = [];
    for (const [i, u] of users.entries()) {
      const balance = balances[i]!;
      const custodyBalance = custody.get(u.id) ?? '0';
      if (balance > 0n || custodyBalance !== '0')
        items.push({ userId: u.id, address: getAddress(u.walletAddress), balance: balance.toString(), custodyBalance });
    }
    return { blockNumber: at.toString(), items };
  }

  /** Active tokens signed by one key (a firm's or an issuer's): what governance pauses or rotates. */
  activeSignedBy(kind: 'operator' | 'issuer', id: string): Promise<Token[]> {
    return this.repo.activeSignedBy(kind, id);
  }

  /** Key rotation's last step (in its transaction): the key's tokens name the new address; this instance's cache forgets them. */
  async repointSigner(em: EntityManager, kind: 'operator' | 'issuer', id: string, address: `0x${string}`): Promise<void> {
    await this.repo.repointSigner(em, kind, id, address);
    for (const [tid, e] of this.activeTokens) if (e.t.signerKind === kind && e.t.signerId === id) this.activeTokens.delete(tid);
  }

  deployingSignedBy(kind: 'operator' | 'issuer', id: string): Promise<Token[]> {
    return this.repo.deployingSignedBy(kind, id);
  }

  /** Tokens a principal may see: its firm's own, and its granted issuers'. Anything else is 404. */
  async visible(p: Principal, id: string): Promise<Token> {
    const cached = this.activeTokens.get(id);
    const fresh = cached && Date.now() - cached.at < CACHE_MS ? cached.t : undefined;
    if (cached && !fresh) this.activeTokens.delete(id);
    const t = fresh ?? (await this.repo.findById(id));
    if (!t) throw new NotFoundError('Token');
    if (t.status === 'active' && !this.activeTokens.has(id)) {
      if (this.activeTokens.size >= 10_000) this.activeTokens.delete(this.activeTokens.keys().next().value!);
      this.activeTokens.set(id, { t, at: Date.now() });
    }
    const firm = firmOf(p);
    if (!firm || t.operatorId === firm) return t;
    if (t.issuerId && (await this.issuers.isGranted(t.issuerId, firm))) return t;
    throw new NotFoundError('Token');
  }

  /** The token contracts' admin: the governance signer's address (KMS key, external multisig, or the development key). */
  private async governanceAddress(): Promise<`0x${string}`> {
    return (await this.governance.identity()).address;
  }
}
