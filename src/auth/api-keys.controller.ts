import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { ApiKeysService, type ApiKeyView } from './api-keys.service';
import { ApiKeyCreatedDto, ApiKeyPageDto, CreateApiKeyDto } from './dto/api-key.dto';
import { refuseIdempotencyKey } from './guards';
import { CurrentPrincipal, RequestId, StaffRoute, type Principal } from '../common/principal';

@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @StaffRoute(['firm-admin'])
  @ApiOperation({ summary: 'Create an API key for a back-office system; `key` is shown once and stored as a hash only' })
  @ApiCreatedResponse({ type: ApiKeyCreatedDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  create(
    @Body() body: CreateApiKeyDto,
    @CurrentPrincipal() p: Principal,
    @Req() req: Request,
    @RequestId() rid?: string,
  ): Promise<ApiKeyCreatedDto> {
    refuseIdempotencyKey(req, 'API key creation');
    return this.keys.create(p, body, rid);
  }

  @Get()
  @StaffRoute(['firm-admin'])
  @ApiOperation({ summary: "List the firm's API keys, newest first (never the key itself)" })
  @ApiOkResponse({ type: ApiKeyPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@Query() q: PageQuery, @CurrentPrincipal() p: Principal): Promise<Page<ApiKeyView>> {
    return this.keys.list(p, q);
  }

  @Delete(':id')
  @HttpCode(204)
  @StaffRoute(['firm-admin'])
  @ApiOperation({ summary: 'Revoke an API key: it stops working at once (401)' })
  @ApiNoContentResponse()
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async revoke(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<void> {
    await this.keys.revoke(p, id, rid);
  }
}
