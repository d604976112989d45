import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { Transaction, TxKind, TxStatus } from '../entities/transaction.entity';

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
  @ApiProperty({ description: 'the requesting principal id' }) requestedBy!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'the batch this transaction runs a lot of' })
  batchId!: string | null;
  @ApiPropertyOptional({ format: 'date-time' }) createdAt!: string;
  @ApiPropertyOptional({ format: 'date-time' }) updatedAt!: string;
}

export function toTxDto(t: Transaction): TransactionResponse {
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
    requestedBy: t.operatorId,
    batchId: t.batchId ?? null,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}
