import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import {
  LEGAL_BASIS_CODES,
  type LegalBasis,
  type LegalBasisCode,
  type RequestedBy,
  type Transaction,
  type TxKind,
  type TxStatus,
} from '../entities/transaction.entity';

export const TX_STATUSES: readonly TxStatus[] = [
  'pending_approval',
  'queued',
  'awaiting_signature',
  'submitted',
  'confirmed',
  'failed',
  'cancelled',
  'rejected',
  'expired',
];

class TxError {
  @ApiProperty({ example: 'INSUFFICIENT_BALANCE' }) code!: string;
  @ApiProperty({ example: 'the transaction reverted on chain' }) message!: string;
}

class RequestedByView {
  @ApiProperty({ enum: ['staff', 'api-key', 'admin', 'system'] }) type!: RequestedBy['type'];
  @ApiProperty({ description: 'staff, API key or admin id (system: "kagi")' }) id!: string;
  @ApiPropertyOptional({ description: 'system requests: the firm kagi acted for' }) onBehalfOf?: string;
}

class ApprovalGivenView {
  @ApiProperty({ description: "the checker's staff id" }) by!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

class ApprovalsView {
  @ApiProperty({ description: 'approvals needed before anything is signed, fixed at the request (0: none)', example: 2 })
  required!: number;
  @ApiProperty({ type: [ApprovalGivenView] }) given!: Array<{ by: string; at: string }>;
}

class LegalBasisView {
  @ApiProperty({ enum: LEGAL_BASIS_CODES, example: 'court-order' }) code!: LegalBasisCode;
  @ApiPropertyOptional({ example: '東京地裁 令和8年(ヨ)第123号' }) reference?: string;
  @ApiPropertyOptional({ example: 'garnishment order served 2026-11-30' }) note?: string;
}

/** The requester of rows from before it was recorded: the firm's id (its first staff member's). */
function requestedByOf(t: TxDtoSource): RequestedByView {
  const r = t.requestedBy;
  if (r) return { type: r.type, id: r.id, ...(r.onBehalfOf ? { onBehalfOf: r.onBehalfOf } : {}) };
  if (t.requestedByType === 'system') return { type: 'system', id: 'kagi', onBehalfOf: t.operatorId };
  return { type: t.requestedByType === 'admin' ? 'admin' : 'staff', id: t.operatorId };
}

/** A token operation or deployment, as every route answers it. */
@ApiSchema({ name: 'Transaction' })
export class TransactionResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) tokenId!: string | null;
  @ApiProperty({ example: 'issue' }) kind!: TxKind;
  @ApiProperty({ enum: TX_STATUSES, example: 'queued' }) status!: TxStatus;
  @ApiProperty({ description: 'the signing address', example: '0x8ba1f109551bD432803012645Ac136ddd64DBA72' }) from!: string;
  @ApiProperty({ type: Number, nullable: true }) nonce!: number | null;
  @ApiProperty({ type: String, nullable: true }) txHash!: string | null;
  @ApiProperty({ type: [String], description: 'earlier hashes signed for the same nonce and replaced by a fee bump' })
  replacedTxHashes!: string[];
  @ApiProperty({ type: Number, nullable: true }) blockNumber!: number | null;
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: TxError, nullable: true }) error!: { code: string; message: string } | null;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { userId: '5f7c2a55-0a7d-4b57-9d1e-7c9b7b5b0b11', amount: '1500' } })
  request!: Record<string, unknown>;
  @ApiProperty({ type: RequestedByView }) requestedBy!: RequestedByView;
  @ApiProperty({ type: ApprovalsView }) approvals!: ApprovalsView;
  @ApiProperty({ type: LegalBasisView, nullable: true }) legalBasis!: LegalBasis | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'the batch this transaction runs a lot of' })
  batchId!: string | null;
  @ApiPropertyOptional({ format: 'date-time' }) createdAt!: string;
  @ApiPropertyOptional({ format: 'date-time' }) updatedAt!: string;
}

/** What a Transaction answer is built from: these columns of its row. */
export type TxDtoSource = Pick<
  Transaction,
  | 'id'
  | 'tokenId'
  | 'kind'
  | 'status'
  | 'operatorId'
  | 'requestedByType'
  | 'fromAddress'
  | 'nonce'
  | 'txHash'
  | 'replacedHashes'
  | 'blockNumber'
  | 'attempts'
  | 'error'
  | 'request'
  | 'requestedBy'
  | 'approvalsRequired'
  | 'approvalsGiven'
  | 'legalBasis'
  | 'batchId'
  | 'createdAt'
  | 'updatedAt'
>;

export function toTxDto(t: TxDtoSource): TransactionResponse {
  return {
    id: t.id,
    tokenId: t.tokenId,
    kind: t.kind,
    status: t.status,
    from: t.fromAddress,
    nonce: t.nonce,
    txHash: t.txHash,
    replacedTxHashes: t.replacedHashes ?? [],
    blockNumber: t.blockNumber === null ? null : Number(t.blockNumber),
    attempts: t.attempts,
    error: t.error,
    request: t.request,
    requestedBy: requestedByOf(t),
    approvals: { required: t.approvalsRequired ?? 0, given: (t.approvalsGiven ?? []).map((a) => ({ by: a.by, at: a.at })) },
    legalBasis: t.legalBasis ?? null,
    batchId: t.batchId ?? null,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}
