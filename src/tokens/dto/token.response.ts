import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { Token } from '../entities/token.entity';

class TokenSigner {
  @ApiProperty({ enum: ['operator', 'issuer'] }) kind!: 'operator' | 'issuer';
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: '0x8ba1f109551bD432803012645Ac136ddd64DBA72' }) address!: string;
}

/** A security token as every route answers it; totalSupply and paused are read from the chain on GET /v1/tokens/{id}. */
@ApiSchema({ name: 'Token' })
export class TokenResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) operatorId!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) issuerId!: string | null;
  @ApiProperty({ example: 'Minato Real Estate Bond 2030' }) name!: string;
  @ApiProperty({ example: 'MREB30' }) symbol!: string;
  @ApiProperty({ example: 0 }) decimals!: number;
  @ApiProperty({ type: TokenSigner }) signer!: { kind: 'operator' | 'issuer'; id: string; address: string };
  @ApiProperty({ type: String, nullable: true, description: 'the contract address once deployed' }) address!: string | null;
  @ApiProperty({ enum: ['deploying', 'active', 'failed'] }) status!: 'deploying' | 'active' | 'failed';
  @ApiProperty({ format: 'uuid' }) deployTransactionId!: string;
  @ApiPropertyOptional({ description: 'decimal string of base units, read from the chain' }) totalSupply?: string;
  @ApiPropertyOptional({ description: 'read from the chain' }) paused?: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export function toTokenDto(t: Token): TokenResponse {
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
