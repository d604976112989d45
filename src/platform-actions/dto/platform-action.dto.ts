import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export class ApproveActionDto {
  @ApiPropertyOptional({ example: '123456', description: 'TOTP code, required while REQUIRE_MFA_FOR_APPROVAL is on' })
  @IsOptional()
  @IsString()
  @Matches(/^\d{6}$/, { message: 'otp must be 6 digits' })
  otp?: string;
}

export class RejectActionDto {
  @ApiProperty({ example: 'No court order on file', maxLength: 1000 })
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  reason!: string;
}

class SubjectDto {
  @ApiProperty({ example: 'operator' }) type!: string;
  @ApiProperty({ example: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b' }) id!: string;
}

export class PlatformActionDto {
  @ApiProperty({ example: '0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b' }) id!: string;
  @ApiProperty({ example: 'emergency-unpause', description: 'key-rotation, emergency-unpause, issuer-grant, platform-policy, …' })
  kind!: string;
  @ApiProperty({ enum: ['pending_approval', 'approved', 'rejected', 'expired'], example: 'pending_approval' }) status!: string;
  @ApiProperty({ example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', description: 'The requesting admin' }) requestedBy!: string;
  @ApiProperty({ nullable: true, type: String, example: null }) approvedBy!: string | null;
  @ApiProperty({ type: SubjectDto }) subject!: SubjectDto;
  @ApiProperty({ nullable: true, type: String, example: null }) reason!: string | null;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) createdAt!: string;
  @ApiProperty({ nullable: true, type: String, example: null }) decidedAt!: string | null;
  @ApiProperty({ example: '2026-12-02T09:00:00.000Z' }) expiresAt!: string;
}

export class PlatformActionPageDto {
  @ApiProperty({ type: [PlatformActionDto] }) items!: PlatformActionDto[];
  @ApiProperty({ nullable: true, type: String, example: null }) nextCursor!: string | null;
}
