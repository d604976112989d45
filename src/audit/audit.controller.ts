import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsDateString, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { CurrentPrincipal, firmOf, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { AuditEventsRepository } from './audit-events.repository';

export class AuditQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'actor id (principal id)', example: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  actor?: string;

  @ApiPropertyOptional({
    enum: ['admin', 'staff', 'api-key', 'system', 'anonymous', 'operator'],
    description: '`operator` is an alias of `staff`',
  })
  @IsOptional()
  @IsIn(['admin', 'staff', 'api-key', 'system', 'anonymous', 'cli', 'operator'])
  actorType?: string;

  @ApiPropertyOptional({ example: 'auth.login' })
  @IsOptional()
  @Matches(/^[a-z0-9._-]{1,64}$/, { message: 'action must be an event action such as auth.login' })
  action?: string;

  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z' })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;
}

class AuditEventDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: '2026-11-24T09:00:00.000Z' }) at!: string;
  @ApiProperty({ example: { type: 'admin', id: '…' } }) actor!: { type: string; id: string | null };
  @ApiProperty({ example: 'operator.create' }) action!: string;
  @ApiProperty({ nullable: true, example: { type: 'operator', id: '…' } }) subject!: { type: string; id: string } | null;
  @ApiProperty({ enum: ['success', 'failure', 'denied'] }) outcome!: string;
  @ApiProperty({ example: { loginId: 'sakura-sec' } }) details!: Record<string, unknown>;
}

class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items!: AuditEventDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

@ApiTags('platform')
@ApiBearerAuth()
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly events: AuditEventsRepository) {}

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'The audit trail, newest first (admins: all; an operator: its own)' })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@Query() q: AuditQuery, @CurrentPrincipal() p: Principal): Promise<Page<AuditEventDto>> {
    // Staff events written before firms had staff carry actor type `operator`.
    const actorTypes =
      q.actorType === 'staff' || q.actorType === 'operator' ? ['staff', 'operator'] : q.actorType ? [q.actorType] : undefined;
    return this.events.page({ operatorId: firmOf(p), actorTypes, actorId: q.actor, action: q.action, from: q.from, to: q.to }, q, (e) => ({
      id: e.id,
      at: e.at.toISOString(),
      actor: { type: e.actorType, id: e.actorId },
      action: e.action,
      subject: e.subjectType && e.subjectId ? { type: e.subjectType, id: e.subjectId } : null,
      outcome: e.outcome,
      details: e.details,
    }));
  }
}
