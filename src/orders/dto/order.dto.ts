import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject } from 'class-validator';
import { TransactionResponse } from '../../transactions/dto/transaction.response';

export class CreateOrderDto {
  @ApiProperty({
    description: "≤ 100 operations on one or several tokens: {tokenId, kind, ...that kind's body}",
    example: [
      { tokenId: '0b7a6c1e-3f4d-4c8a-9b2e-1d5f6a7b8c9d', kind: 'issue', userId: '5f7c2a55-0a7d-4b57-9d1e-7c9b7b5b0b11', amount: '100' },
      { tokenId: '7e1d2c3b-4a5f-4e6d-8c7b-9a0b1c2d3e4f', kind: 'redeem', userId: '5f7c2a55-0a7d-4b57-9d1e-7c9b7b5b0b11', amount: '50' },
    ],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsObject({ each: true })
  operations!: Array<Record<string, unknown>>;
}

@ApiSchema({ name: 'Order' })
export class OrderResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['pending_approval', 'running', 'completed', 'partially_failed', 'rejected', 'expired'] }) status!: string;
  @ApiProperty({ type: [TransactionResponse] }) transactions!: TransactionResponse[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}
