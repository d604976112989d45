import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequestId, Roles, type Principal } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { ParseIdPipe } from '../common/parse-id.pipe';
import { CreateMediumEventDto, MediumEventDto, MediumListDto } from './dto/media.dto';
import { MediaService } from './media.service';

@ApiTags('secure room media')
@ApiBearerAuth()
@Controller('v1/users/:id/wallet-media')
export class MediaController {
  constructor(private readonly media: MediaService) {}

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({
    summary: "A user's key media (printed sheets, PDF files, displays) with their chain of custody",
    description:
      'The user’s firm and admins. Each medium id is printed on its sheet; `void` media come from a failed issuance and are to be destroyed.',
  })
  @ApiOkResponse({ type: MediumListDto })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  list(@CurrentPrincipal() p: Principal, @Param('id', ParseIdPipe) id: string): Promise<MediumListDto> {
    return this.media.list(p, id);
  }

  @Post(':mediumId/events')
  @HttpCode(201)
  @Roles('admin')
  @ApiOperation({ summary: 'Record a chain-of-custody event of a medium: stored, moved, handed over or destroyed' })
  @ApiCreatedResponse({ type: MediumEventDto })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  addEvent(
    @CurrentPrincipal() p: Principal,
    @Param('id', ParseIdPipe) id: string,
    @Param('mediumId', ParseIdPipe) mediumId: string,
    @Body() body: CreateMediumEventDto,
    @RequestId() rid?: string,
  ): Promise<MediumEventDto> {
    return this.media.addEvent(p, id, mediumId, body, rid);
  }
}
