import { Body, Controller, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiProblems } from '../common/api-problems';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import type { TransactionResponse } from '../transactions/dto/transaction.response';
import { EmergencyDto } from './dto/emergency.dto';
import { EmergencyService } from './emergency.service';

const IDEMPOTENCY = {
  name: 'Idempotency-Key',
  required: false,
  description: 'same key + same body → the original answer, no second pause',
};

@ApiTags('governance')
@ApiBearerAuth()
@Controller('v1')
export class EmergencyController {
  constructor(private readonly emergency: EmergencyService) {}

  @Post('operators/:id/emergency-pause')
  @HttpCode(202)
  @Roles('admin')
  @ApiOperation({
    summary:
      "Emergency pause of a firm (one admin, legal basis): firm suspended, governance's pause flag on every active token it signs, the firm's address loses the agent role",
  })
  @ApiAcceptedResponse({ description: '`{operatorId, transactions: Transaction[]}`' })
  @ApiHeader(IDEMPOTENCY)
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE')
  pauseOperator(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Headers('idempotency-key') key: string | undefined,
    @RequestId() rid?: string,
  ): Promise<{ operatorId: string; transactions: TransactionResponse[] }> {
    return this.emergency.pauseOperator(p, id, body.legalBasis, key, rid);
  }

  @Post('issuers/:id/emergency-pause')
  @HttpCode(202)
  @Roles('admin')
  @ApiOperation({
    summary: "Emergency pause of every token of an issuer (one admin, legal basis); the issuer's address loses the agent role",
  })
  @ApiAcceptedResponse({ description: '`{issuerId, transactions: Transaction[]}`' })
  @ApiHeader(IDEMPOTENCY)
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE')
  pauseIssuer(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Headers('idempotency-key') key: string | undefined,
    @RequestId() rid?: string,
  ): Promise<{ issuerId: string; transactions: TransactionResponse[] }> {
    return this.emergency.pauseIssuer(p, id, body.legalBasis, key, rid);
  }

  @Post('operators/:id/emergency-unpause')
  @Roles('admin')
  @ApiOperation({
    summary: "Emergency unpause: lifts governance's pause flag (a platform action: a second admin approves); re-grants no role",
  })
  @ApiAcceptedResponse({
    description: '`{actionId, status: "pending_approval"}`; with PLATFORM_FOUR_EYES off it runs at once (200, with `transactions`)',
  })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async unpauseOperator(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<{ actionId: string; status: string; transactions?: TransactionResponse[] }> {
    const out = await this.emergency.requestUnpause(p, { type: 'operator', id }, body.legalBasis, rid);
    res.status(out.status === 'pending_approval' ? 202 : 200);
    return out;
  }

  @Post('issuers/:id/emergency-unpause')
  @Roles('admin')
  @ApiOperation({ summary: "Emergency unpause of an issuer's tokens (a platform action)" })
  @ApiAcceptedResponse({ description: '`{actionId, status: "pending_approval"}`' })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async unpauseIssuer(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<{ actionId: string; status: string; transactions?: TransactionResponse[] }> {
    const out = await this.emergency.requestUnpause(p, { type: 'issuer', id }, body.legalBasis, rid);
    res.status(out.status === 'pending_approval' ? 202 : 200);
    return out;
  }
}
