import { applyDecorators, Body, Controller, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
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

type Subject = 'operator' | 'issuer';
type Unpaused = { actionId: string; status: string; transactions?: TransactionResponse[] };

/** `POST /v1/{operators|issuers}/:id/emergency-pause`: the same route for either subject, its summary aside. */
function PauseRoute(subject: Subject, summary: string) {
  return applyDecorators(
    Post(`${subject}s/:id/emergency-pause`),
    HttpCode(202),
    Roles('admin'),
    ApiOperation({ summary }),
    ApiAcceptedResponse({ description: `\`{${subject}Id, transactions: Transaction[]}\`` }),
    ApiHeader(IDEMPOTENCY),
    ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE'),
  );
}

/** `POST /v1/{operators|issuers}/:id/emergency-unpause`: 202 pending a second admin, 200 when it ran at once. */
function UnpauseRoute(subject: Subject, summary: string, accepted: string) {
  return applyDecorators(
    Post(`${subject}s/:id/emergency-unpause`),
    Roles('admin'),
    ApiOperation({ summary }),
    ApiAcceptedResponse({ description: accepted }),
    ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND'),
  );
}

@ApiTags('governance')
@ApiBearerAuth()
@Controller('v1')
export class EmergencyController {
  constructor(private readonly emergency: EmergencyService) {}

  @PauseRoute(
    'operator',
    "Emergency pause of a firm (one admin, legal basis): firm suspended, governance's pause flag on every active token it signs, the firm's address loses the agent role",
  )
  pauseOperator(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Headers('idempotency-key') key: string | undefined,
    @RequestId() rid?: string,
  ): Promise<{ operatorId: string; transactions: TransactionResponse[] }> {
    return this.emergency.pauseOperator(p, id, body.legalBasis, key, rid);
  }

  @PauseRoute('issuer', "Emergency pause of every token of an issuer (one admin, legal basis); the issuer's address loses the agent role")
  pauseIssuer(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Headers('idempotency-key') key: string | undefined,
    @RequestId() rid?: string,
  ): Promise<{ issuerId: string; transactions: TransactionResponse[] }> {
    return this.emergency.pauseIssuer(p, id, body.legalBasis, key, rid);
  }

  @UnpauseRoute(
    'operator',
    "Emergency unpause: lifts governance's pause flag (a platform action: a second admin approves); re-grants no role",
    '`{actionId, status: "pending_approval"}`; with PLATFORM_FOUR_EYES off it runs at once (200, with `transactions`)',
  )
  unpauseOperator(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<Unpaused> {
    return this.unpause({ type: 'operator', id }, body, p, res, rid);
  }

  @UnpauseRoute('issuer', "Emergency unpause of an issuer's tokens (a platform action)", '`{actionId, status: "pending_approval"}`')
  unpauseIssuer(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: EmergencyDto,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @RequestId() rid?: string,
  ): Promise<Unpaused> {
    return this.unpause({ type: 'issuer', id }, body, p, res, rid);
  }

  private async unpause(
    subject: { type: Subject; id: string },
    body: EmergencyDto,
    p: Principal,
    res: Response,
    rid?: string,
  ): Promise<Unpaused> {
    const out = await this.emergency.requestUnpause(p, subject, body.legalBasis, rid);
    res.status(out.status === 'pending_approval' ? 202 : 200);
    return out;
  }
}
