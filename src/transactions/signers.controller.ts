import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/principal';
import { ApiProblems } from '../common/api-problems';
import { TokensService } from '../tokens/tokens.service';

@ApiTags('transactions')
@ApiBearerAuth()
@Controller('v1/signers')
export class SignersController {
  constructor(private readonly tokens: TokensService) {}

  @Get()
  @Roles('admin')
  @ApiOperation({ summary: 'Signing keys with queue depth, next nonce and gas balance' })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'CHAIN_UNAVAILABLE')
  list() {
    return this.tokens.signers();
  }
}
