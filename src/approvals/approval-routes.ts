/**
 * The approve and reject routes of everything that waits for approval (transactions, batches,
 * orders), written once: a controller extends `ApprovalRoutes({...})` and names the service that
 * decides. The routes, their guard (checkers of the firm), bodies, problem list and OpenAPI
 * description cannot drift between the three kinds. Nest and @nestjs/swagger read route and
 * parameter metadata through the prototype chain, so inherited handlers are routed and documented
 * under the extending controller.
 */
import { Body, HttpCode, Param, Post, type Type } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal, RequestId, StaffRoute, type Principal } from '../common/principal';
import { ApproveDto, RejectDto } from './dto/policy.dto';

/** What decides on an item waiting for approval (the item's service). */
export interface ApprovalDecider<R> {
  approve(p: Principal, id: string, body: ApproveDto, requestId?: string): Promise<R>;
  reject(p: Principal, id: string, reason: string, requestId?: string): Promise<R>;
}

export interface ApprovalRoutesOptions<R> {
  /** The route prefix under the controller's path ('' when the controller's path is the item's). */
  path: string;
  /** What both routes answer (the item). */
  type: Type<R>;
  approve: { summary: string; description?: string };
  reject: { summary: string };
}

/** A base class carrying `POST {path}/:id/approve` and `POST {path}/:id/reject`; `decider` names the deciding service. */
export function ApprovalRoutes<R>(o: ApprovalRoutesOptions<R>) {
  const at = (action: string) => (o.path ? `${o.path}/:id/${action}` : `:id/${action}`);

  abstract class Routes {
    protected abstract readonly decider: ApprovalDecider<R>;

    @Post(at('approve'))
    @HttpCode(200)
    @StaffRoute(['checker'])
    @ApiOperation({ summary: o.approve.summary })
    @ApiOkResponse({ type: o.type, ...(o.approve.description ? { description: o.approve.description } : {}) })
    @ApiProblems(
      'VALIDATION_FAILED',
      'UNAUTHENTICATED',
      'MFA_REQUIRED',
      'FORBIDDEN',
      'SELF_APPROVAL',
      'MFA_NOT_ENABLED',
      'NOT_FOUND',
      'NOT_PENDING',
      'ALREADY_APPROVED',
      'CHAIN_UNAVAILABLE',
    )
    approve(
      @Param('id', ParseIdPipe) id: string,
      @Body() body: ApproveDto,
      @CurrentPrincipal() p: Principal,
      @RequestId() rid?: string,
    ): Promise<R> {
      return this.decider.approve(p, id, body, rid);
    }

    @Post(at('reject'))
    @HttpCode(200)
    @StaffRoute(['checker'])
    @ApiOperation({ summary: o.reject.summary })
    @ApiOkResponse({ type: o.type })
    @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'NOT_PENDING')
    reject(
      @Param('id', ParseIdPipe) id: string,
      @Body() body: RejectDto,
      @CurrentPrincipal() p: Principal,
      @RequestId() rid?: string,
    ): Promise<R> {
      return this.decider.reject(p, id, body.reason, rid);
    }
  }
  return Routes;
}
