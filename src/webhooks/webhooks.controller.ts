import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CurrentPrincipal, RequestId, StaffRoute, type Principal } from '../common/principal';
import {
  CreatedWebhookDto,
  CreateWebhookDto,
  DeliveryPageDto,
  SecretDto,
  UpdateWebhookDto,
  WebhookDto,
  WebhookPageDto,
} from './dto/webhook.dto';
import { WebhooksService, type DeliveryView, type WebhookView } from './webhooks.service';

/** A firm-admin: its firm's endpoints and events; an admin: the platform's. */
const WebhookRoute = () => StaffRoute(['firm-admin'], { admin: true });

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @WebhookRoute()
  @ApiOperation({ summary: 'Register a webhook endpoint; the secret is shown once' })
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  create(
    @CurrentPrincipal() p: Principal,
    @Body() dto: CreateWebhookDto,
    @RequestId() rid?: string,
  ): Promise<WebhookView & { secret: string }> {
    return this.webhooks.create(p, dto, rid);
  }

  @Get()
  @WebhookRoute()
  @ApiOperation({ summary: 'Webhook endpoints, newest first (no secrets)' })
  @ApiOkResponse({ type: WebhookPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN')
  list(@CurrentPrincipal() p: Principal, @Query() q: PageQuery): Promise<Page<WebhookView>> {
    return this.webhooks.list(p, q);
  }

  @Patch(':id')
  @WebhookRoute()
  @ApiOperation({ summary: 'Enable, disable or change the events of an endpoint (re-enabling resumes from the held event)' })
  @ApiOkResponse({ type: WebhookDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  update(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Body() dto: UpdateWebhookDto,
    @RequestId() rid?: string,
  ): Promise<WebhookView> {
    return this.webhooks.update(p, id, dto, rid);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @WebhookRoute()
  @ApiOperation({ summary: 'A new secret, shown once; for 24 h deliveries carry both signatures' })
  @ApiOkResponse({ type: SecretDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'KMS_UNAVAILABLE')
  rotate(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string, @RequestId() rid?: string): Promise<{ secret: string }> {
    return this.webhooks.rotateSecret(p, id, rid);
  }

  @Delete(':id')
  @HttpCode(204)
  @WebhookRoute()
  @ApiOperation({ summary: 'Delete an endpoint (its undelivered events are dropped)' })
  @ApiNoContentResponse()
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async remove(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string, @RequestId() rid?: string): Promise<void> {
    await this.webhooks.remove(p, id, rid);
  }

  @Get(':id/deliveries')
  @WebhookRoute()
  @ApiOperation({ summary: 'The delivery log of an endpoint, newest first' })
  @ApiOkResponse({ type: DeliveryPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  deliveries(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string, @Query() q: PageQuery): Promise<Page<DeliveryView>> {
    return this.webhooks.deliveries(p, id, q);
  }

  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(202)
  @WebhookRoute()
  @ApiOperation({ summary: 'Send a delivery again now (same webhook-id), in its place in the sequence' })
  @ApiAcceptedResponse()
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async retry(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Param('deliveryId', ParseIdPipe) deliveryId: string,
    @RequestId() rid?: string,
  ): Promise<void> {
    await this.webhooks.retry(p, id, deliveryId, rid);
  }
}
