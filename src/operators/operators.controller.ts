import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CreateOperatorDto, OperatorDto, OperatorPageDto } from './dto/operator.dto';
import { OperatorsService } from './operators.service';

@ApiTags('operators')
@ApiBearerAuth()
@Controller('v1/operators')
export class OperatorsController {
  constructor(private readonly operators: OperatorsService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Create an operator and its envelope-encrypted signing key' })
  @ApiCreatedResponse({ type: OperatorDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'LOGIN_ID_TAKEN', 'WEAK_PASSWORD', 'KMS_UNAVAILABLE')
  create(@Body() body: CreateOperatorDto, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<OperatorDto> {
    return this.operators.create(body, p, rid);
  }

  @Get()
  @Roles('admin')
  @ApiOperation({ summary: 'List operators, newest first' })
  @ApiOkResponse({ type: OperatorPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@Query() q: PageQuery): Promise<Page<OperatorDto>> {
    return this.operators.list(q);
  }

  @Get(':id')
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Read an operator (admins: any; an operator: itself)' })
  @ApiOkResponse({ type: OperatorDto })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal): Promise<OperatorDto> {
    return this.operators.get(id, p);
  }

  @Post(':id/key-rewrap')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Re-encrypt the data key under the current KMS key (signing key and address unchanged)' })
  @ApiOkResponse({ type: OperatorDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'KMS_UNAVAILABLE')
  rewrap(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<OperatorDto> {
    return this.operators.rewrap(id, p, rid);
  }

  @Post(':id/suspend')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Suspend: revokes its tokens at once; its queued transactions are not signed' })
  @ApiOkResponse({ type: OperatorDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  suspend(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<OperatorDto> {
    return this.operators.setStatus(id, 'suspended', p, rid);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Resume a suspended operator (it logs in again)' })
  @ApiOkResponse({ type: OperatorDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  resume(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<OperatorDto> {
    return this.operators.setStatus(id, 'active', p, rid);
  }
}
