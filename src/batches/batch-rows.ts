/**
 * Row validation of a batch (and of an order's operations): each row's fields for its kind, the
 * users it names (the requesting firm's, with wallets), frozen receivers, and debits checked
 * cumulatively — one user's rows together against its balance less pending debits, in row order
 * (the first row that no longer fits is the invalid one). Pure given the lookups and chain reads,
 * so the whole of it is unit-tested without a chain.
 */
import { getAddress, type Address } from 'viem';
import type { ErrorCode } from '../common/error-codes';
import { LEGAL_BASIS_CODES } from '../transactions/entities/transaction.entity';
import type { BatchKind, LegalBasis } from './entities/batch.entity';
import type { RawRow } from './batch-input';

export interface RowProblem {
  row: number;
  field: string;
  code: ErrorCode;
  message: string;
}

export interface KnownUser {
  id: string;
  externalRef: string | null;
  walletAddress: string | null;
}

/** A row that passed its own checks (before chain reads). */
interface ResolvedRow {
  row: number;
  userId: string | null;
  toUserId: string | null;
  from?: Address;
  to?: Address;
  amount?: bigint;
  legalBasis: LegalBasis | null;
  instruction: { reference: string; receivedAt: string } | null;
}

export interface Judged {
  rows: ResolvedRow[];
  /** Per row number: its problem, for rows that are invalid. */
  problems: Map<number, RowProblem>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_UINT256 = (1n << 256n) - 1n;

const needsAmount = (k: BatchKind) => k !== 'freeze' && k !== 'unfreeze';
const needsReceiver = (k: BatchKind) => k === 'transfer' || k === 'forced-transfer';
/** Rows that take tokens from `from`. */
export const debits = (k: BatchKind) => k === 'redeem' || k === 'transfer' || k === 'forced-transfer';
/** Rows whose receiver must not be frozen (`to`), and, for an instructed transfer, the sender too. */
export const frozenChecks = (k: BatchKind): Array<'from' | 'to'> =>
  k === 'issue' || k === 'forced-transfer' ? ['to'] : k === 'transfer' ? ['from', 'to'] : [];

class RowError extends Error {
  constructor(
    readonly field: string,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Digits only, no sign, no separators (not "1,000", not full-width), > 0 and ≤ 2^256 − 1. */
export function parseAmount(v: unknown, field = 'amount'): bigint {
  if (v === undefined || v === null || v === '') throw new RowError(field, 'VALIDATION_FAILED', `${field} is required`);
  if (typeof v !== 'string' || !/^[0-9]{1,78}$/.test(v))
    throw new RowError(field, 'VALIDATION_FAILED', `${field} must be a decimal string of integer base units (digits only)`);
  const n = BigInt(v);
  if (n === 0n) throw new RowError(field, 'VALIDATION_FAILED', `${field} must be greater than 0`);
  if (n > MAX_UINT256) throw new RowError(field, 'VALIDATION_FAILED', `${field} must be at most 2^256-1`);
  return n;
}

export function parseLegalBasis(v: unknown, field = 'legalBasis'): LegalBasis {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RowError(field, 'VALIDATION_FAILED', `${field} must be an object`);
  const { code, reference, note, ...rest } = v as Record<string, unknown>;
  const extra = Object.keys(rest).filter((k) => rest[k] !== undefined);
  if (extra.length) throw new RowError(`${field}.${extra[0]}`, 'VALIDATION_FAILED', `${field}.${extra[0]} is not an allowed field`);
  if (typeof code !== 'string' || !(LEGAL_BASIS_CODES as readonly string[]).includes(code))
    throw new RowError(`${field}.code`, 'VALIDATION_FAILED', `${field}.code must be one of ${LEGAL_BASIS_CODES.join(', ')}`);
  for (const [k, s] of [
    ['reference', reference],
    ['note', note],
  ] as const)
    if (s !== undefined && (typeof s !== 'string' || s.length < 1 || s.length > 500))
      throw new RowError(`${field}.${k}`, 'VALIDATION_FAILED', `${field}.${k} must be a string of 1 to 500 characters`);
  if (code === 'other' && note === undefined)
    throw new RowError(`${field}.note`, 'VALIDATION_FAILED', `${field}.note is required with code other`);
  return {
    code: code as LegalBasis['code'],
    ...(reference !== undefined ? { reference: reference as string } : {}),
    ...(note !== undefined ? { note: note as string } : {}),
  };
}

function parseInstruction(v: unknown): { reference: string; receivedAt: string } {
  const o = (v ?? {}) as Record<string, unknown>;
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new RowError('instruction', 'VALIDATION_FAILED', 'instruction {reference, receivedAt} is required for a transfer');
  if (typeof o.reference !== 'string' || o.reference.length < 1 || o.reference.length > 200)
    throw new RowError('instruction.reference', 'VALIDATION_FAILED', 'instruction.reference must be 1 to 200 characters');
  if (typeof o.receivedAt !== 'string' || Number.isNaN(Date.parse(o.receivedAt)) || !/^\d{4}-\d{2}-\d{2}T/.test(o.receivedAt))
    throw new RowError('instruction.receivedAt', 'VALIDATION_FAILED', 'instruction.receivedAt must be an ISO-8601 date-time');
  return { reference: o.reference, receivedAt: o.receivedAt };
}

/** Which user a row names by `idField` or `refField` (undefined: none named). */
function named(r: RawRow, idField: 'userId' | 'toUserId', refField: 'externalRef' | 'toExternalRef') {
  const id = r[idField];
  const ref = r[refField];
  if (id === undefined && ref === undefined) return undefined;
  if (id !== undefined && (typeof id !== 'string' || !UUID.test(id)))
    throw new RowError(idField, 'VALIDATION_FAILED', `${idField} must be a UUID`);
  if (ref !== undefined && (typeof ref !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(ref)))
    throw new RowError(refField, 'VALIDATION_FAILED', `${refField} must be 1 to 64 printable ASCII characters`);
  return { id: id?.toLowerCase(), ref: ref };
}

/** The ids and externalRefs a batch names, for one lookup query. */
export function namedUsers(rows: readonly RawRow[]): { ids: string[]; refs: string[] } {
  const ids = new Set<string>();
  const refs = new Set<string>();
  for (const r of rows) for (const v of [r.userId, r.toUserId]) if (typeof v === 'string' && UUID.test(v)) ids.add(v.toLowerCase());
  for (const r of rows) for (const v of [r.externalRef, r.toExternalRef]) if (typeof v === 'string') refs.add(v);
  return { ids: [...ids], refs: [...refs] };
}

/**
 * Each row's own checks: its fields for `kind`, its users (found, the firm's, with a wallet).
 * `batchBasis` is the batch's legal basis, a row's own one wins.
 */
export function resolveRows(
  kind: BatchKind,
  raw: readonly RawRow[],
  users: { byId: ReadonlyMap<string, KnownUser>; byRef: ReadonlyMap<string, KnownUser> },
  batchBasis: LegalBasis | null,
): Judged {
  const rows: ResolvedRow[] = [];
  const problems = new Map<number, RowProblem>();
  // Checksumming hashes the address: once per user, not once per row (10,000 rows, few users).
  const checksummed = new Map<string, Address>();
  const checksum = (a: string) => checksummed.get(a) ?? checksummed.set(a, getAddress(a)).get(a)!;
  const find = (r: RawRow, idField: 'userId' | 'toUserId', refField: 'externalRef' | 'toExternalRef', required: boolean) => {
    const n = named(r, idField, refField);
    if (!n) {
      if (required) throw new RowError(idField, 'VALIDATION_FAILED', `${idField} or ${refField} is required`);
      return undefined;
    }
    const byId = n.id ? users.byId.get(n.id) : undefined;
    const byRef = n.ref !== undefined ? users.byRef.get(n.ref) : undefined;
    if (n.id && !byId) throw new RowError(idField, 'NOT_FOUND', `User ${n.id} not found`);
    if (n.ref !== undefined && !byRef) throw new RowError(refField, 'NOT_FOUND', `No user with ${refField} ${n.ref}`);
    if (byId && byRef && byId.id !== byRef.id)
      throw new RowError(refField, 'VALIDATION_FAILED', `${idField} and ${refField} name different users`);
    const u = (byId ?? byRef)!;
    if (!u.walletAddress) throw new RowError(idField, 'WALLET_NOT_ISSUED', `User ${u.id} has no wallet yet`);
    return { id: u.id, address: checksum(u.walletAddress) };
  };
  for (const r of raw) {
    try {
      const user = find(r, 'userId', 'externalRef', true)!;
      const receiver = needsReceiver(kind) ? find(r, 'toUserId', 'toExternalRef', true) : undefined;
      if (!needsReceiver(kind) && (r.toUserId !== undefined || r.toExternalRef !== undefined))
        throw new RowError('toUserId', 'VALIDATION_FAILED', `toUserId is not a field of ${kind} rows`);
      let amount: bigint | undefined;
      if (needsAmount(kind)) amount = parseAmount(r.amount);
      else if (r.amount !== undefined) throw new RowError('amount', 'VALIDATION_FAILED', `amount is not a field of ${kind} rows`);
      if (receiver && receiver.address === user.address)
        throw new RowError('toUserId', 'VALIDATION_FAILED', 'the receiver must differ from the sender');
      const legalBasis = r.legalBasis !== undefined ? parseLegalBasis(r.legalBasis) : batchBasis;
      if (kind === 'forced-transfer' && !legalBasis)
        throw new RowError('legalBasis', 'VALIDATION_FAILED', 'a forced transfer needs a legal basis (the row’s or the batch’s)');
      const instruction = kind === 'transfer' ? parseInstruction(r.instruction) : null;
      if (kind !== 'transfer' && r.instruction !== undefined)
        throw new RowError('instruction', 'VALIDATION_FAILED', `instruction is not a field of ${kind} rows`);
      const from = kind === 'issue' || kind === 'freeze' || kind === 'unfreeze' ? undefined : user.address;
      const to = kind === 'redeem' ? undefined : (receiver?.address ?? user.address);
      rows.push({ row: r.row, userId: user.id, toUserId: receiver?.id ?? null, from, to, amount, legalBasis, instruction });
    } catch (e) {
      if (!(e instanceof RowError)) throw e;
      problems.set(r.row, { row: r.row, field: e.field, code: e.code, message: e.message });
    }
  }
  return { rows, problems };
}

/**
 * Chain checks of resolved rows: frozen addresses, then debits cumulatively per sender in row
 * order against `available` (balance less pending debits at the pre-check block).
 */
export function judgeOnChain(
  kind: BatchKind,
  judged: Judged,
  frozen: ReadonlyMap<Address, boolean>,
  available: ReadonlyMap<Address, bigint>,
): Judged {
  const rows: ResolvedRow[] = [];
  const problems = new Map(judged.problems);
  const spent = new Map<Address, bigint>();
  for (const r of judged.rows) {
    const side = frozenChecks(kind).find((s) => (s === 'from' ? r.from : r.to) && frozen.get((s === 'from' ? r.from : r.to)!));
    if (side) {
      problems.set(r.row, {
        row: r.row,
        field: side === 'from' ? 'userId' : kind === 'issue' ? 'userId' : 'toUserId',
        code: 'ADDRESS_FROZEN',
        message: `Address ${side === 'from' ? r.from : r.to} is frozen`,
      });
      continue;
    }
    if (debits(kind) && r.from && r.amount !== undefined) {
      const have = available.get(r.from) ?? 0n;
      const after = (spent.get(r.from) ?? 0n) + r.amount;
      if (after > have) {
        problems.set(r.row, {
          row: r.row,
          field: 'amount',
          code: 'INSUFFICIENT_BALANCE',
          message: `This user's rows up to here debit ${after}; its balance less pending debits is ${have}`,
        });
        continue;
      }
      spent.set(r.from, after);
    }
    rows.push(r);
  }
  return { rows, problems };
}

/** Problems in row order. */
export const listed = (problems: ReadonlyMap<number, RowProblem>): RowProblem[] => [...problems.values()].sort((a, b) => a.row - b.row);
