/**
 * The operation catalogue: every token operation kind described once — its route and body
 * DTO, who may call it, the users it names, its pre-checks and debit, its problems, and the
 * contract call it becomes. The controller and acceptance loop over it; the call is built at
 * signing from the stored arguments through viem's typed ABI, so the compiler checks each
 * entry's function name and arguments against the contract. Adding a kind is one entry here
 * (see docs/operation-kinds.md).
 */
import type { Type } from '@nestjs/common';
import type { Address, ContractFunctionArgs } from 'viem';
import { AppError } from '../../common/app-error';
import type { ErrorCode } from '../../common/error-codes';
import type { securityTokenAbi } from '../../chain/contracts/security-token.abi';
import { ForcedTransferBody, UserLegalBasisBody } from '../../approvals/dto/legal-basis.dto';
import type { LegalBasisNeed } from '../../approvals/legal-basis';
import { EmptyDto, RedeemDto, TransferDto, UserAmountDto } from '../dto/token.dto';
import { custodyShort, type Prechecks, type UserField } from './prechecks';

type Abi = typeof securityTokenAbi;
type AgentFunction =
  | 'mint'
  | 'burn'
  | 'forcedTransfer'
  | 'setAddressFrozen'
  | 'pause'
  | 'unpause'
  | 'recoveryAddress'
  | 'batchMint'
  | 'batchBurn'
  | 'batchForcedTransfer'
  | 'batchSetAddressFrozen';
/** One call of the token contract's agent powers, typed by the ABI. */
type TokenCall = { [F in AgentFunction]: { functionName: F; args: ContractFunctionArgs<Abi, 'nonpayable', F> } }[AgentFunction];

/** The call's arguments as stored with the queued row (JSON: amounts as decimal strings). */
export interface CallArgs {
  from?: Address;
  to?: Address;
  amount?: string;
}

interface Accepted {
  userId?: string;
  args: CallArgs;
  /** The request as the client sees it in the Transaction. */
  request: Record<string, unknown>;
  /** What the operation takes from `address`, and that address's balance at the pre-check block. */
  debit?: { address: Address; amount: bigint; balance: bigint };
}

/** What acceptance knows besides the pre-checks. */
interface AcceptEnv {
  amount: bigint;
  /** The requesting firm's custody address (operations with `custody`). */
  custody: Address | undefined;
  /** The user's custody balance less its pending withdrawals (operations with `custody`). */
  ownCustody: Promise<readonly [bigint, bigint]>;
}

/** What the call needs at signing time besides its stored arguments. */
interface CallEnv {
  /** The requesting firm's custody address now (a custody change after acceptance is respected). */
  custody: Address;
}

type OperationKind =
  'issue' | 'redeem' | 'transfer' | 'forced-transfer' | 'deposit' | 'withdraw' | 'recover' | 'freeze' | 'unfreeze' | 'pause' | 'unpause';

export interface OperationSpec {
  kind: OperationKind;
  summary: string;
  body: Type<object>;
  /** `agent`: any firm operating the token; `pauser`: the creating firm (while granted) or an admin. */
  who: 'agent' | 'pauser';
  users: readonly UserField[];
  /** Reads the chain at one block and counts pending debits against it. */
  debits: boolean;
  /** Needs the firm's custody address. */
  custody: boolean;
  /** Its legal basis (coercive operations); absent: stored only when given (the body may not carry one). */
  legalBasis?: LegalBasisNeed;
  problems: ErrorCode[];
  accept(c: Prechecks, body: Record<string, unknown>, env: AcceptEnv): Promise<Accepted>;
  call(args: CallArgs, env: CallEnv): TokenCall;
}

const COMMON: ErrorCode[] = [
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'NOT_FOUND',
  'TOKEN_NOT_ACTIVE',
  'TOKEN_PAUSED',
  'GOVERNANCE_PAUSED',
  'CHAIN_UNAVAILABLE',
];
const IDEMPOTENT: ErrorCode[] = ['IDEMPOTENCY_KEY_IN_USE', 'IDEMPOTENCY_KEY_REUSED'];
const amount = (a: CallArgs) => BigInt(a.amount ?? '0');
const addr = (a: Address | undefined): Address => {
  if (!a) throw new Error('stored call arguments lack an address');
  return a;
};

export const OPERATIONS: readonly OperationSpec[] = [
  {
    kind: 'issue',
    summary: "Issue (mint) to the user's wallet",
    body: UserAmountDto,
    who: 'agent',
    users: ['userId'],
    debits: false,
    custody: false,
    problems: [...COMMON, 'WALLET_NOT_ISSUED', 'ADDRESS_FROZEN', ...IDEMPOTENT],
    async accept(c, body, env) {
      const frozen = c.frozen(c.peek('userId')?.address);
      await c.admissible();
      const u = c.wallet('userId');
      await c.notFrozen(frozen, u.address);
      return { userId: u.id, args: { to: u.address, amount: env.amount.toString() }, request: { userId: u.id, amount: body.amount } };
    },
    call: (a) => ({ functionName: 'mint', args: [addr(a.to), amount(a)] }),
  },
  {
    kind: 'redeem',
    summary: "Redeem (burn) from the user's wallet",
    body: RedeemDto,
    who: 'agent',
    users: ['userId'],
    debits: true,
    custody: false,
    problems: [...COMMON, 'WALLET_NOT_ISSUED', 'INSUFFICIENT_BALANCE', ...IDEMPOTENT],
    async accept(c, body, env) {
      const debit = c.debit(c.peek('userId')?.address);
      await c.admissible();
      const u = c.wallet('userId');
      const balance = await c.enough(debit, env.amount);
      return {
        userId: u.id,
        args: { from: u.address, amount: env.amount.toString() },
        request: { userId: u.id, amount: body.amount, reason: body.reason ?? null },
        debit: { address: u.address, amount: env.amount, balance },
      };
    },
    call: (a) => ({ functionName: 'burn', args: [addr(a.from), amount(a)] }),
  },
  ...(['transfer', 'forced-transfer'] as const).map((kind): OperationSpec => ({
    kind,
    // transfer: a 譲渡 the investor instructed (¶0018: holders never sign; the firm's agent key moves it), not coercive;
    // forced-transfer: coercive, without the holder's instruction.
    summary:
      kind === 'transfer'
        ? "Transfer between two of the firm's users on the sender's instruction, executed by the firm's agent key"
        : 'Forced transfer between two of the firm’s users',
    body: kind === 'transfer' ? TransferDto : ForcedTransferBody,
    who: 'agent',
    ...(kind === 'forced-transfer' ? { legalBasis: 'required' as const } : {}),
    users: ['fromUserId', 'toUserId'],
    debits: true,
    custody: false,
    problems: [...COMMON, 'WALLET_NOT_ISSUED', 'ADDRESS_FROZEN', 'INSUFFICIENT_BALANCE', ...IDEMPOTENT],
    async accept(c, body, env) {
      const frozen = c.frozen(c.peek('toUserId')?.address);
      // An instructed transfer respects a freeze of the sender too (a coercive one does not).
      const senderFrozen = kind === 'transfer' ? c.frozen(c.peek('fromUserId')?.address) : undefined;
      const debit = c.debit(c.peek('fromUserId')?.address);
      await c.admissible();
      const from = c.wallet('fromUserId');
      const to = c.wallet('toUserId');
      if (from.address === to.address)
        throw new AppError('VALIDATION_FAILED', 'fromUserId and toUserId are the same wallet', {
          errors: [{ field: 'toUserId', message: 'must differ from fromUserId' }],
        });
      if (senderFrozen) await c.notFrozen(senderFrozen, from.address);
      await c.notFrozen(frozen, to.address);
      const balance = await c.enough(debit, env.amount);
      const why = kind === 'transfer' ? { instruction: body.instruction } : body.reason !== undefined ? { reason: body.reason } : {};
      return {
        userId: from.id,
        args: { from: from.address, to: to.address, amount: env.amount.toString() },
        request: { fromUserId: from.id, toUserId: to.id, amount: body.amount, ...why },
        debit: { address: from.address, amount: env.amount, balance },
      };
    },
    call: (a) => ({ functionName: 'forcedTransfer', args: [addr(a.from), addr(a.to), amount(a)] }),
  })),
  {
    kind: 'deposit',
    summary: "User wallet → the firm's custody address; credits the user's custody balance when confirmed",
    body: UserAmountDto,
    who: 'agent',
    users: ['userId'],
    debits: true,
    custody: true,
    problems: [...COMMON, 'WALLET_NOT_ISSUED', 'ADDRESS_FROZEN', 'INSUFFICIENT_BALANCE', ...IDEMPOTENT],
    async accept(c, body, env) {
      const custody = addr(env.custody);
      const frozen = c.frozen(custody);
      const debit = c.debit(c.peek('userId')?.address);
      await c.admissible();
      const u = c.wallet('userId');
      await c.notFrozen(frozen, custody);
      const balance = await c.enough(debit, env.amount);
      return {
        userId: u.id,
        args: { from: u.address, amount: env.amount.toString() },
        request: { userId: u.id, amount: body.amount, custodyAddress: custody },
        debit: { address: u.address, amount: env.amount, balance },
      };
    },
    call: (a, env) => ({ functionName: 'forcedTransfer', args: [addr(a.from), env.custody, amount(a)] }),
  },
  {
    kind: 'withdraw',
    summary: "Custody → the user's wallet, up to that user's custody balance",
    body: UserAmountDto,
    who: 'agent',
    users: ['userId'],
    debits: true,
    custody: true,
    problems: [...COMMON, 'WALLET_NOT_ISSUED', 'ADDRESS_FROZEN', 'INSUFFICIENT_BALANCE', ...IDEMPOTENT],
    async accept(c, body, env) {
      const custody = addr(env.custody);
      const frozen = c.frozen(c.peek('userId')?.address);
      const debit = c.debit(custody);
      await c.admissible();
      const u = c.wallet('userId');
      await c.notFrozen(frozen, u.address);
      const [held, pendingOut] = await env.ownCustody;
      if (held - pendingOut < env.amount) throw custodyShort(held, pendingOut, env.amount);
      const balance = await c.enough(debit, env.amount);
      return {
        userId: u.id,
        args: { to: u.address, amount: env.amount.toString() },
        request: { userId: u.id, amount: body.amount, custodyAddress: custody },
        debit: { address: custody, amount: env.amount, balance },
      };
    },
    call: (a, env) => ({ functionName: 'forcedTransfer', args: [env.custody, addr(a.to), amount(a)] }),
  },
  {
    kind: 'recover',
    summary: "Move a previous wallet's whole balance to the user's current wallet (one transaction per previous wallet holding tokens)",
    body: UserLegalBasisBody,
    who: 'agent',
    users: ['userId'],
    debits: true,
    custody: false,
    legalBasis: 'configurable',
    problems: [...COMMON, 'WALLET_NOT_ISSUED', 'ADDRESS_FROZEN', 'NOTHING_TO_RECOVER', ...IDEMPOTENT],
    async accept(c) {
      const previous = c.peek('userId')?.previous ?? [];
      const debits = previous.map((a) => c.debit(a));
      const frozen = c.frozen(c.peek('userId')?.address);
      await c.admissible();
      const u = c.wallet('userId');
      let lost: { address: Address; balance: bigint } | undefined;
      for (const [i, a] of previous.entries()) {
        const [balance, pending] = await debits[i]!;
        if (balance - pending > 0n) {
          lost = { address: a, balance };
          break;
        }
      }
      if (!lost) throw new AppError('NOTHING_TO_RECOVER', 'No previous wallet of this user holds this token');
      await c.notFrozen(frozen, u.address);
      return {
        userId: u.id,
        args: { from: lost.address, to: u.address },
        request: { userId: u.id, from: lost.address, to: u.address },
        debit: { address: lost.address, amount: lost.balance, balance: lost.balance },
      };
    },
    call: (a) => ({ functionName: 'recoveryAddress', args: [addr(a.from), addr(a.to)] }),
  },
  ...(['freeze', 'unfreeze'] as const).map((kind): OperationSpec => ({
    kind,
    summary: kind === 'freeze' ? "Freeze the user's wallet on this token" : "Unfreeze the user's wallet on this token",
    body: UserLegalBasisBody,
    who: 'agent',
    users: ['userId'],
    debits: false,
    custody: false,
    legalBasis: kind === 'freeze' ? 'configurable' : 'optional',
    problems: [...COMMON, 'WALLET_NOT_ISSUED', ...IDEMPOTENT],
    async accept(c) {
      await c.admissible();
      const u = c.wallet('userId');
      return { userId: u.id, args: { to: u.address }, request: { userId: u.id } };
    },
    call: (a) => ({ functionName: 'setAddressFrozen', args: [addr(a.to), kind === 'freeze'] }),
  })),
  {
    kind: 'pause',
    summary: 'Pause every balance change of the token',
    body: EmptyDto,
    who: 'pauser',
    users: [],
    debits: false,
    custody: false,
    problems: [
      'UNAUTHENTICATED',
      'FORBIDDEN',
      'NOT_FOUND',
      'TOKEN_NOT_ACTIVE',
      'TOKEN_PAUSED',
      'GOVERNANCE_PAUSED',
      'CHAIN_UNAVAILABLE',
      ...IDEMPOTENT,
    ],
    async accept(c) {
      await c.admissible();
      return { args: {}, request: {} };
    },
    call: () => ({ functionName: 'pause', args: [] }),
  },
  {
    kind: 'unpause',
    summary: 'Unpause the token',
    body: EmptyDto,
    who: 'pauser',
    users: [],
    debits: false,
    custody: false,
    problems: ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'TOKEN_NOT_ACTIVE', 'GOVERNANCE_PAUSED', 'CHAIN_UNAVAILABLE', ...IDEMPOTENT],
    async accept(c) {
      await c.notGovernancePaused();
      if (!(await c.paused))
        throw new AppError('VALIDATION_FAILED', 'The token is not paused', { errors: [{ field: 'token', message: 'not paused' }] });
      return { args: {}, request: {} };
    },
    call: () => ({ functionName: 'unpause', args: [] }),
  },
];

export const OPERATION_BY_KIND: ReadonlyMap<string, OperationSpec> = new Map(OPERATIONS.map((o) => [o.kind, o]));

/** One row of a batch lot, as stored in the lot's `call_args.rows`. */
export interface LotRow {
  from?: Address;
  to?: Address;
  amount?: string;
}

/**
 * The calls of batch lots (contract v2's batch functions: row i is the single function with the
 * i-th arguments, all or nothing). Rows are accepted by the batches module; this is only the call
 * each lot becomes at signing, so the compiler checks it against the ABI like the entries above.
 */
export const BATCH_CALLS: ReadonlyMap<string, (rows: readonly LotRow[]) => TokenCall> = new Map<
  string,
  (rows: readonly LotRow[]) => TokenCall
>([
  ['batch-issue', (rows) => ({ functionName: 'batchMint', args: [rows.map((r) => addr(r.to)), rows.map(amount)] })],
  ['batch-redeem', (rows) => ({ functionName: 'batchBurn', args: [rows.map((r) => addr(r.from)), rows.map(amount)] })],
  [
    'batch-forced-transfer',
    (rows) => ({
      functionName: 'batchForcedTransfer',
      args: [rows.map((r) => addr(r.from)), rows.map((r) => addr(r.to)), rows.map(amount)],
    }),
  ],
  ['batch-freeze', (rows) => ({ functionName: 'batchSetAddressFrozen', args: [rows.map((r) => addr(r.to)), rows.map(() => true)] })],
  ['batch-unfreeze', (rows) => ({ functionName: 'batchSetAddressFrozen', args: [rows.map((r) => addr(r.to)), rows.map(() => false)] })],
]);
