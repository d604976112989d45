/**
 * The pre-checks of one operation request: what the catalogue's entries read and refuse with.
 * The named users are read first (database); then every chain read of the operation starts in
 * the same tick, so viem sends them as one JSON-RPC batch. Operations that take tokens read the
 * chain at one block, so the balance and the debits counted against it meet exactly (a debit
 * mined after that block still counts as pending). Refusals keep their order: paused, then the
 * users, then frozen receivers, then balances.
 */
import { getAddress, type Address } from 'viem';
import { AppError } from '../../common/app-error';
import type { TransactionQueue } from '../../transactions/queue';
import type { Token } from '../entities/token.entity';
import type { TokenReads } from '../token-reads';

export type UserField = 'userId' | 'fromUserId' | 'toUserId';
export interface NamedUser {
  id: string;
  walletAddress: string | null;
  previousWalletAddresses: string[];
}
export type Lookup = { u: NamedUser } | { error: unknown };
export interface Wallet {
  id: string;
  address: Address;
  previous: Address[];
}

export const insufficient = (balance: bigint, pending: bigint, amount: bigint) =>
  new AppError('INSUFFICIENT_BALANCE', `Balance ${balance} less pending debits ${pending} is below ${amount}`);
export const custodyShort = (held: bigint, pending: bigint, amount: bigint) =>
  new AppError('INSUFFICIENT_BALANCE', `The user's custody balance ${held} less pending withdrawals ${pending} is below ${amount}`);

/** Awaited later unless an earlier refusal ends the request (no unhandled rejection meanwhile). */
function settle<T>(x: Promise<T>): Promise<T> {
  x.catch(() => undefined);
  return x;
}

export class Prechecks {
  readonly paused: Promise<boolean>;
  private readonly wallets = new Map<UserField, Wallet | undefined>();

  constructor(
    private readonly reads: TokenReads,
    private readonly queue: TransactionQueue,
    readonly token: Token & { address: Address },
    readonly kind: string,
    private readonly found: ReadonlyMap<UserField, Lookup>,
    /** The block the chain is read at (operations that take tokens); undefined: latest. */
    readonly at: bigint | undefined,
  ) {
    for (const [f, r] of found)
      this.wallets.set(
        f,
        'u' in r && r.u.walletAddress
          ? { id: r.u.id, address: getAddress(r.u.walletAddress), previous: r.u.previousWalletAddresses.map((a) => getAddress(a)) }
          : undefined,
      );
    this.paused = settle(reads.paused(token.address, at));
  }

  /** The wallet of a named user, before admissible() has checked it (undefined when missing). */
  peek(f: UserField): Wallet | undefined {
    return this.wallets.get(f);
  }

  /** The wallet of a named user, after admissible(). */
  wallet(f: UserField): Wallet {
    return this.wallets.get(f)!;
  }

  frozen(a: Address | undefined): Promise<boolean> {
    return settle(a ? this.reads.isFrozen(this.token.address, a, this.at) : Promise.resolve(false));
  }

  /** The balance of `a` at the pre-check block and the debits of it still pending. */
  debit(a: Address | undefined): Promise<readonly [bigint, bigint]> {
    return settle<readonly [bigint, bigint]>(
      a && this.at !== undefined
        ? Promise.all([
            this.reads.balanceOf(this.token.address, a, this.at),
            this.queue.pendingDebits(undefined, this.token.id, a, this.at),
          ])
        : Promise.resolve([0n, 0n] as const),
    );
  }

  /** Paused first, then every named user must exist (404 otherwise) and have a wallet. */
  async admissible(): Promise<void> {
    if ((await this.paused) && this.kind !== 'unpause') throw new AppError('TOKEN_PAUSED', 'The token is paused');
    for (const r of this.found.values()) {
      if ('error' in r) throw r.error;
      if (!r.u.walletAddress) throw new AppError('WALLET_NOT_ISSUED', `User ${r.u.id} has no wallet yet`);
    }
  }

  async notFrozen(read: Promise<boolean>, a: Address): Promise<void> {
    if (await read) throw new AppError('ADDRESS_FROZEN', `Address ${a} is frozen`);
  }

  /** Refuses unless the balance less pending debits covers `amount`; returns the balance. */
  async enough(read: Promise<readonly [bigint, bigint]>, amount: bigint): Promise<bigint> {
    const [bal, pending] = await read;
    if (bal - pending < amount) throw insufficient(bal, pending, amount);
    return bal;
  }
}
