import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsISO8601, IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { API_KEY_ROLES } from '../../common/principal';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'back-office batch', maxLength: 200 })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiProperty({ enum: API_KEY_ROLES, isArray: true, example: ['maker', 'viewer'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(2)
  @IsIn(API_KEY_ROLES, { each: true, message: 'roles must be maker and/or viewer' })
  roles!: Array<(typeof API_KEY_ROLES)[number]>;

  @ApiPropertyOptional({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10', description: 'Defaults to the creator' })
  @IsOptional()
  @IsUUID()
  ownerStaffId?: string;

  @ApiPropertyOptional({ example: '2027-06-30T00:00:00.000Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

export class ApiKeyDto {
  @ApiProperty({ example: '6f1d2c3b-4a5e-4f60-8a71-92b3c4d5e6f7' }) id!: string;
  @ApiProperty({ example: 'back-office batch' }) name!: string;
  @ApiProperty({ enum: API_KEY_ROLES, isArray: true, example: ['maker'] }) roles!: string[];
  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' }) ownerStaffId!: string;
  @ApiProperty({ example: '3f9a0c12be45' }) prefix!: string;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) createdAt!: string;
  @ApiProperty({ type: String, nullable: true, example: null }) expiresAt!: string | null;
  @ApiProperty({ type: String, nullable: true, example: null }) lastUsedAt!: string | null;
  @ApiProperty({ type: String, nullable: true, example: null }) revokedAt!: string | null;
}

export class ApiKeyCreatedDto {
  @ApiProperty({ example: '6f1d2c3b-4a5e-4f60-8a71-92b3c4d5e6f7' }) id!: string;
  @ApiProperty({ example: 'back-office batch' }) name!: string;
  @ApiProperty({ enum: API_KEY_ROLES, isArray: true, example: ['maker'] }) roles!: string[];
  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' }) ownerStaffId!: string;
  @ApiProperty({ example: '3f9a0c12be45' }) prefix!: string;
  @ApiProperty({ example: 'kagi_3f9a0c12be45_…', description: 'Shown once; stored as a hash only' }) key!: string;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) createdAt!: string;
  @ApiProperty({ type: String, nullable: true, example: null }) expiresAt!: string | null;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] }) items!: ApiKeyDto[];
  @ApiProperty({ type: String, nullable: true, example: null }) nextCursor!: string | null;
}
