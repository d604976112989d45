import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { IssuersService, type IssuerDto } from './issuers.service';

class CreateIssuerDto {
  @ApiProperty({ example: '株式会社みなと不動産' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;
}

class GrantDto {
  @ApiProperty({ example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  @IsUUID()
  operatorId!: string;
}

class IssuerResponseDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: '株式会社みなと不動産' }) name!: string;
  @ApiProperty({ example: '0x5B38Da6a701c568545dCfcB03FcB875f56beddC4' }) signerAddress!: string;
  @ApiProperty({ type: [String], description: 'admins: every granted operator; an operator: only itself' }) operatorIds!: string[];
  @ApiProperty() createdAt!: string;
}

class IssuerPageDto {
  @ApiProperty({ type: [IssuerResponseDto] }) items!: IssuerResponseDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

@ApiTags('issuers')
@ApiBearerAuth()
@Controller('v1/issuers')
export class IssuersController {
  constructor(private readonly issuers: IssuersService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Create an issuer with its own envelope-encrypted signing key' })
  @ApiCreatedResponse({ type: IssuerResponseDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'KMS_UNAVAILABLE')
  create(@Body() body: CreateIssuerDto, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<IssuerDto> {
    return this.issuers.create(body.name, p, rid);
  }

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'List issuers (admins: all; an operator: those it is granted)' })
  @ApiOkResponse({ type: IssuerPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@CurrentPrincipal() p: Principal, @Query() q: PageQuery): Promise<Page<IssuerDto>> {
    return this.issuers.list(p, q);
  }

  @Get(':id')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Read an issuer' })
  @ApiOkResponse({ type: IssuerResponseDto })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal): Promise<IssuerDto> {
    return this.issuers.get(id, p);
  }

  @Post(':id/operators')
  @Roles('admin')
  @ApiOperation({
    summary: 'Grant an operator the use of this issuer key (a platform action: with PLATFORM_FOUR_EYES a second admin approves)',
  })
  @ApiOkResponse({ type: IssuerResponseDto, description: 'granted at once (PLATFORM_FOUR_EYES off)' })
  @ApiAcceptedResponse({ description: '`{actionId, status: "pending_approval"}`: approve with POST /v1/platform-actions/{id}/approve' })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async grant(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: GrantDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<IssuerDto | { actionId: string; status: string }> {
    const out = await this.issuers.grant(id, body.operatorId.toLowerCase(), p, rid);
    if ('issuer' in out) {
      res.status(200);
      return out.issuer;
    }
    res.status(202);
    return out;
  }

  @Delete(':id/operators/:operatorId')
  @Roles('admin')
  @ApiOperation({ summary: 'Revoke a grant: effective at once, also for queued transactions' })
  @ApiOkResponse({ type: IssuerResponseDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  revoke(
    @Param('id', ParseIdPipe) id: string,
    @Param('operatorId', ParseIdPipe) operatorId: string,
    @CurrentPrincipal() p: Principal,
    @RequestId() rid?: string,
  ): Promise<IssuerDto> {
    return this.issuers.revoke(id, operatorId, p, rid);
  }

  @Post(':id/key-rewrap')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Re-encrypt the issuer data key under the current KMS key' })
  @ApiOkResponse({ type: IssuerResponseDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'KMS_UNAVAILABLE')
  rewrap(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<IssuerDto> {
    return this.issuers.rewrap(id, p, rid);
  }
}
