import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export class CreateOperatorDto {
  @ApiProperty({ example: 'さくら証券株式会社', maxLength: 200 })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiProperty({ example: 'ops@sakura-sec.example.jp' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiPropertyOptional({
    format: 'password',
    example: 'correct-horse-battery-staple',
    description:
      'Development and tests only (refused in production, where the first member activates with an e-mailed code): at least 12 characters, not containing the loginId; must be changed at first login',
  })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  password?: string;

  @ApiPropertyOptional({ example: 'sakura-sec', description: 'Issued by the server when absent; unique across all principals' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$/, { message: 'loginId must be 3 to 64 characters: letters, digits, . _ @ -' })
  loginId?: string;
}

export class OperatorDto {
  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  id!: string;

  @ApiProperty({ example: 'sakura-sec' })
  loginId!: string;

  @ApiProperty({ example: 'さくら証券株式会社' })
  name!: string;

  @ApiProperty({ example: 'ops@sakura-sec.example.jp' })
  email!: string;

  @ApiProperty({ enum: ['active', 'suspended'], example: 'active' })
  status!: 'active' | 'suspended';

  @ApiProperty({
    example: '0x5B38Da6a701c568545dCfcB03FcB875f56beddC4',
    description: 'Address of the operator signing key (agent on its tokens)',
  })
  signerAddress!: string;

  @ApiProperty({
    example: '0x5B38Da6a701c568545dCfcB03FcB875f56beddC4',
    description: 'Where deposited investor tokens are held; defaults to signerAddress',
  })
  custodyAddress!: string;

  @ApiProperty({ example: '2026-11-24T09:00:00.000Z' })
  createdAt!: string;
}

export class OperatorPageDto {
  @ApiProperty({ type: [OperatorDto] })
  items!: OperatorDto[];

  @ApiProperty({ type: String, nullable: true, example: null })
  nextCursor!: string | null;
}
