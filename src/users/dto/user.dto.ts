import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { PageQuery } from '../../common/pagination';

const TAX_CLASSES = ['individual', 'corporate'] as const;
export type TaxClass = (typeof TAX_CLASSES)[number];

export class CreateUserDto {
  @ApiProperty({ example: '山田花子', maxLength: 200 })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  @Matches(/^[^\u0000-\u001f\u007f]+$/u, { message: 'name must not contain control characters' })
  name!: string;

  @ApiProperty({ example: 'hanako.yamada@example.jp' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiPropertyOptional({ example: 'C-000123', description: "The firm's customer number; unique per operator" })
  @IsOptional()
  @IsString()
  @Matches(/^[\x21-\x7e]{1,64}$/, { message: 'externalRef must be 1 to 64 printable ASCII characters' })
  externalRef?: string;

  @ApiPropertyOptional({ example: 'ヤマダハナコ', maxLength: 200, description: 'フリガナ, for the holder register' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  @Matches(/^[^\u0000-\u001f\u007f]+$/u, { message: 'nameKana must not contain control characters' })
  nameKana?: string;

  @ApiPropertyOptional({ example: '〒100-0005 東京都千代田区丸の内1-1-1', maxLength: 500 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  @Matches(/^[^\u0000-\u001f\u007f]+$/u, { message: 'postalAddress must not contain control characters' })
  postalAddress?: string;

  @ApiPropertyOptional({ enum: TAX_CLASSES, default: 'individual', description: 'individuals also bear 住民税 on distributions' })
  @IsOptional()
  @IsIn(TAX_CLASSES)
  taxClass?: TaxClass;
}

/** The register fields a firm may correct after registration (null clears kana or address). */
export class UpdateUserDto {
  @ApiPropertyOptional({ type: String, nullable: true, example: 'ヤマダハナコ', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  @Matches(/^[^\u0000-\u001f\u007f]+$/u, { message: 'nameKana must not contain control characters' })
  nameKana?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: '〒100-0005 東京都千代田区丸の内1-1-1', maxLength: 500 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  @Matches(/^[^\u0000-\u001f\u007f]+$/u, { message: 'postalAddress must not contain control characters' })
  postalAddress?: string | null;

  @ApiPropertyOptional({ enum: TAX_CLASSES })
  @IsOptional()
  @IsIn(TAX_CLASSES)
  taxClass?: TaxClass;
}

export class UserQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['pending', 'issued'] })
  @IsOptional()
  @IsIn(['pending', 'issued'])
  walletStatus?: 'pending' | 'issued';
}

export class UserDto {
  @ApiProperty({ example: '5f7c2a55-0a7d-4b57-9d1e-7c9b7b5b0b11' }) id!: string;
  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' }) operatorId!: string;
  @ApiProperty({ example: '山田花子' }) name!: string;
  @ApiProperty({ example: 'hanako.yamada@example.jp' }) email!: string;
  @ApiProperty({ type: String, nullable: true, example: 'C-000123' }) externalRef!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'ヤマダハナコ' }) nameKana!: string | null;
  @ApiProperty({ type: String, nullable: true, example: '〒100-0005 東京都千代田区丸の内1-1-1' }) postalAddress!: string | null;
  @ApiProperty({ enum: TAX_CLASSES, example: 'individual' }) taxClass!: TaxClass;
  @ApiProperty({ type: String, nullable: true, example: '0x3f5CE5FBFe3E9af3971dD833D26bA9b5C936f0bE' }) walletAddress!: string | null;
  @ApiProperty({ enum: ['pending', 'issued'] }) walletStatus!: 'pending' | 'issued';
  @ApiProperty({ type: [String], example: [] }) previousWalletAddresses!: string[];
  @ApiProperty({ example: '2026-11-24T09:00:00.000Z' }) createdAt!: string;
}

export class UserPageDto {
  @ApiProperty({ type: [UserDto] }) items!: UserDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class ReissueDto {
  @ApiPropertyOptional({ example: 'paper wallet lost in a house move', description: 'required with ?reissue=true' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason?: string;
}
