import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { PageQuery, type Page } from '../common/pagination';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { NotificationsService, type NotificationDto } from './notifications.service';

class NotificationItemDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'user.registered' }) kind!: string;
  @ApiProperty({ example: '新しい投資家が登録されました: 山田花子' }) subject!: string;
  @ApiProperty() body!: string;
  @ApiProperty({ example: '2026-11-24T09:00:00.000Z' }) createdAt!: string;
  @ApiProperty({ type: String, nullable: true }) readAt!: string | null;
}

class NotificationPageDto {
  @ApiProperty({ type: [NotificationItemDto] }) items!: NotificationItemDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

@ApiTags('platform')
@ApiBearerAuth()
@Controller('v1/notifications')
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Notifications, newest first (admins: all; an operator: its own)' })
  @ApiOkResponse({ type: NotificationPageDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@CurrentPrincipal() p: Principal, @Query() q: PageQuery): Promise<Page<NotificationDto>> {
    return this.notifications.list(p, q);
  }

  @Post(':id/read')
  @HttpCode(204)
  @Roles('admin', 'operator')
  @ApiOperation({ summary: 'Mark a notification read' })
  @ApiNoContentResponse()
  @ApiProblems('UNAUTHENTICATED', 'NOT_FOUND')
  async read(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<void> {
    await this.notifications.markRead(p, id);
  }
}
