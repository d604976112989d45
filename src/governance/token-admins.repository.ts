/**
 * The tokens governance lists are the tokens module's (TokensRepository.activeTokens, no SQL
 * here). This alias remains only because src/cli (cli.module.ts, governance-handover.command.ts)
 * still imports the old name; once it imports TokensRepository and TokenRef from
 * src/tokens/tokens.repository.ts, this file goes.
 */
export { TokensRepository as TokenAdminsRepository, type TokenRef } from '../tokens/tokens.repository';
