import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { MediumEventKind } from '../entities/wallet-medium-event.entity';

// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const PRINTABLE = /^[^\u0000-\u001f\u007f]+$/u;
const EVENT_KINDS: MediumEventKind[] = ['stored', 'moved', 'handed-over', 'destroyed'];

export class CreateMediumEventDto {
  @ApiProperty({ enum: EVENT_KINDS, example: 'stored' })
  @IsIn(EVENT_KINDS)
  kind!: MediumEventKind;

  @ApiPropertyOptional({ example: '本店金庫 B-2 / head-office safe B-2', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(PRINTABLE, { message: 'location must not contain control characters' })
  location?: string;

  @ApiProperty({ example: '佐藤一郎 (ops)', maxLength: 200, description: 'who holds the medium after this event' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(PRINTABLE, { message: 'custodian must not contain control characters' })
  custodian!: string;

  @ApiPropertyOptional({ example: '鈴木花子 (compliance)', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(PRINTABLE, { message: 'witness must not contain control characters' })
  witness?: string;

  @ApiPropertyOptional({ example: 'sealed envelope no. 0042', maxLength: 1000 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  @Matches(/^[^\u0000-\u0009\u000b-\u001f\u007f]+$/u, { message: 'note must not contain control characters other than newlines' })
  note?: string;
}

export class MediumEventDto {
  @ApiProperty({ example: '0b6f8f7e-3d1a-4c55-9a0e-5d2b9f1c7a11' }) id!: string;
  @ApiProperty({ example: '4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f' }) mediumId!: string;
  @ApiProperty({ enum: EVENT_KINDS }) kind!: MediumEventKind;
  @ApiProperty({ type: String, nullable: true, example: '本店金庫 B-2 / head-office safe B-2' }) location!: string | null;
  @ApiProperty({ example: '佐藤一郎 (ops)' }) custodian!: string;
  @ApiProperty({ type: String, nullable: true, example: '鈴木花子 (compliance)' }) witness!: string | null;
  @ApiProperty({ type: String, nullable: true, example: null }) note!: string | null;
  @ApiProperty({ example: '2026-12-01T09:00:00.000Z' }) at!: string;
  @ApiProperty({ example: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', description: 'the admin who recorded the event' }) by!: string;
}

export class MediumDto {
  @ApiProperty({ example: '4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', description: 'printed on the sheet' }) mediumId!: string;
  @ApiProperty({ example: '0x3f5CE5FBFe3E9af3971dD833D26bA9b5C936f0bE' }) address!: string;
  @ApiProperty({ enum: ['paper', 'file', 'display'] }) kind!: 'paper' | 'file' | 'display';
  @ApiProperty({
    enum: ['issued', 'void'],
    description: '`void`: the issuance failed after this medium may have come into being (a sheet that may have printed): destroy it',
  })
  status!: 'issued' | 'void';
  @ApiProperty({ example: '2026-12-01T08:55:00.000Z' }) createdAt!: string;
  @ApiProperty({ type: [MediumEventDto] }) events!: MediumEventDto[];
}

export class MediumListDto {
  @ApiProperty({ type: [MediumDto] }) items!: MediumDto[];
}
