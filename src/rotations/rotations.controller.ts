import { applyDecorators, Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal, RequestId, Roles, StaffRoute, type Principal } from '../common/principal';
import { OptionalLegalBasisDto } from '../governance/dto/emergency.dto';
import type { RotationView } from './rotation-view';
import { RotationsService } from './rotations.service';

const REQUEST_PROBLEMS = [
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'ROTATION_IN_PROGRESS',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_KEY_IN_USE',
] as const;
const IDEMPOTENCY = {
  name: 'Idempotency-Key',
  required: false,
  description: 'same key + same body → the original rotation, no second one',
};

/** `POST /v1/{operators|issuers}/:id/key-rotation`: the same route for either key owner, its summary aside. */
function RotationRoute(kind: 'operator' | 'issuer', summary: string) {
  return applyDecorators(
    Post(`${kind}s/:id/key-rotation`),
    HttpCode(202),
    Roles('admin'),
    ApiOperation({ summary }),
    ApiAcceptedResponse({ description: 'Rotation' }),
    ApiHeader(IDEMPOTENCY),
    ApiProblems(...REQUEST_PROBLEMS),
  );
}

@ApiTags('governance')
@ApiBearerAuth()
@Controller('v1')
export class RotationsController {
  constructor(private readonly rotations: RotationsService) {}

  @RotationRoute('operator', "Rotate a firm's signing key (a platform action: a second admin approves with PLATFORM_FOUR_EYES)")
  rotateOperator(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: OptionalLegalBasisDto,
    @CurrentPrincipal() p: Principal,
    @Headers('idempotency-key') key: string | undefined,
    @RequestId() rid?: string,
  ): Promise<RotationView> {
    return this.request('operator', id, body, p, key, rid);
  }

  @RotationRoute('issuer', "Rotate an issuer's signing key (a platform action)")
  rotateIssuer(
    @Param('id', ParseIdPipe) id: string,
    @Body() body: OptionalLegalBasisDto,
    @CurrentPrincipal() p: Principal,
    @Headers('idempotency-key') key: string | undefined,
    @RequestId() rid?: string,
  ): Promise<RotationView> {
    return this.request('issuer', id, body, p, key, rid);
  }

  @Get('rotations/:id')
  @StaffRoute(['firm-admin', 'maker', 'checker', 'viewer'], { admin: true })
  @ApiOperation({ summary: 'A key rotation with its steps (admins; the firm’s staff for its own key)' })
  @ApiOkResponse({ description: 'Rotation' })
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  get(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal): Promise<RotationView> {
    return this.rotations.get(p, id);
  }

  @Post('rotations/:id/resume')
  @HttpCode(202)
  @Roles('admin')
  @ApiOperation({ summary: 'Resume a failed rotation at its failed step' })
  @ApiAcceptedResponse({ description: 'Rotation' })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'NOT_PENDING')
  resume(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() p: Principal, @RequestId() rid?: string): Promise<RotationView> {
    return this.rotations.resume(p, id, rid);
  }

  private request(
    kind: 'operator' | 'issuer',
    id: string,
    body: OptionalLegalBasisDto,
    p: Principal,
    key: string | undefined,
    rid: string | undefined,
  ): Promise<RotationView> {
    return this.rotations.request(p, kind, id, body.legalBasis ? { ...body.legalBasis } : undefined, key, rid);
  }
}
