/**
 * The tokens whose admin role governance checks and hands over: a read of the `tokens` table
 * (owned by src/tokens) from governance. A known debt like the batches' reads of `transactions`:
 * TokensService has no list of every active token yet (TokensRepository.allActive exists); once it
 * exports one, this file goes.
 */
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { getAddress, type Address } from 'viem';

export interface TokenRef {
  id: string;
  symbol: string;
  address: Address;
  contractVersion: number;
}

@Injectable()
export class TokenAdminsRepository {
  constructor(private readonly ds: DataSource) {}

  /** Every active token with a contract (only `ids`, when given), oldest first. */
  async activeTokens(ids?: readonly string[]): Promise<TokenRef[]> {
    const rows = await this.ds.query<Array<{ id: string; symbol: string; address: string; contract_version: number }>>(
      `SELECT id, symbol, address, contract_version FROM tokens
        WHERE status = 'active' AND address IS NOT NULL AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
        ORDER BY created_at, id`,
      [ids?.length ? ids : null],
    );
    return rows.map((r) => ({ id: r.id, symbol: r.symbol, address: getAddress(r.address), contractVersion: Number(r.contract_version) }));
  }
}
