/**
 * The tables `tokens` owns: tokens and the custody ledger (custody_entries); the development
 * governance key's rows are read by src/governance (governance-keys.ts). Tenancy is applied
 * here once: a firm sees its own tokens and those of the issuers it is currently granted.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type SelectQueryBuilder } from 'typeorm';
import { getAddress, type Address } from 'viem';
import { Token } from './entities/token.entity';

/** A deployed token as governance sees it: which contract, which version. */
export interface TokenRef {
  id: string;
  symbol: string;
  address: Address;
  contractVersion: number;
}

const GRANTED = 'SELECT g.issuer_id FROM issuer_grants g WHERE g.operator_id = :firm';

@Injectable()
export class TokensRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  async insert(em: EntityManager, token: Omit<Token, 'createdAt' | 'operator' | 'issuer'>): Promise<void> {
    await em.getRepository(Token).insert(token);
  }

  findById(id: string): Promise<Token | null> {
    return this.ds.getRepository(Token).findOneBy({ id });
  }

  /** Tokens visible to `firm` (null: all). */
  visible(firm: string | null): SelectQueryBuilder<Token> {
    const qb = this.ds.getRepository(Token).createQueryBuilder('t');
    if (firm) qb.andWhere(`(t.operator_id = :firm OR t.issuer_id IN (${GRANTED}))`, { firm });
    return qb;
  }

  /** Active tokens the firm signs for: its own and its granted issuers'. */
  async activeOf(firm: string): Promise<Token[]> {
    return this.visible(firm).andWhere(`t.status = 'active'`).orderBy('t.created_at').getMany();
  }

  /** Active tokens signed by one key (a firm's or an issuer's). */
  activeSignedBy(kind: 'operator' | 'issuer', id: string): Promise<Token[]> {
    return this.ds.getRepository(Token).find({ where: { status: 'active', signerKind: kind, signerId: id }, order: { createdAt: 'ASC' } });
  }

  /** Tokens of one key still deploying (they join a rotation once active). */
  deployingSignedBy(kind: 'operator' | 'issuer', id: string): Promise<Token[]> {
    return this.ds.getRepository(Token).find({ where: { status: 'deploying', signerKind: kind, signerId: id } });
  }

  /** Key rotation: the tokens of a key name its new address (the address their rows are queued on). */
  async repointSigner(em: EntityManager, kind: 'operator' | 'issuer', id: string, address: string): Promise<void> {
    await em.query('UPDATE tokens SET signer_address = $3 WHERE signer_kind = $1 AND signer_id = $2', [kind, id, address]);
  }

  /**
   * Every active token with a contract (only `ids`, when given), oldest first: the tokens whose
   * admin role governance checks and hands over. Database-only, so the CLI provides this
   * repository by itself (it runs no signing pipeline, hence no TokensModule).
   */
  async activeTokens(ids?: readonly string[]): Promise<TokenRef[]> {
    const rows = await this.ds.query<Array<{ id: string; symbol: string; address: string; contract_version: number }>>(
      `SELECT id, symbol, address, contract_version FROM tokens
        WHERE status = 'active' AND address IS NOT NULL AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
        ORDER BY created_at, id`,
      [ids?.length ? ids : null],
    );
    return rows.map((r) => ({ id: r.id, symbol: r.symbol, address: getAddress(r.address), contractVersion: Number(r.contract_version) }));
  }

  allActive(): Promise<Token[]> {
    return this.ds.getRepository(Token).find({ where: { status: 'active' }, order: { createdAt: 'ASC' } });
  }

  /** The firm's custody per active token (ledger sums > 0), locked with the firm's migration. */
  async custodyHoldings(em: EntityManager, operatorId: string): Promise<Array<{ token: Token; amount: string }>> {
    const rows = await em.query<Array<{ token_id: string; s: string }>>(
      `SELECT c.token_id, sum(c.amount)::text AS s FROM custody_entries c JOIN tokens t ON t.id = c.token_id
        WHERE c.operator_id = $1 AND t.status = 'active' GROUP BY c.token_id HAVING sum(c.amount) > 0 ORDER BY c.token_id`,
      [operatorId],
    );
    const out: Array<{ token: Token; amount: string }> = [];
    for (const r of rows) {
      const token = await em.getRepository(Token).findOneByOrFail({ id: r.token_id });
      out.push({ token, amount: r.s });
    }
    return out;
  }

  async setDeployed(em: EntityManager, id: string, address: string | undefined): Promise<void> {
    if (address) await em.query(`UPDATE tokens SET status = 'active', address = $2 WHERE id = $1`, [id, address]);
    else await em.query(`UPDATE tokens SET status = 'failed' WHERE id = $1`, [id]);
  }

  // ---- custody ledger -------------------------------------------------------------------

  /** Applies confirmed custody movements (positive: deposit), in the receipt stage's transaction. */
  async moveCustody(
    em: EntityManager,
    moves: ReadonlyArray<{ tokenId: string; operatorId: string; userId: string; delta: string }>,
  ): Promise<void> {
    for (const m of moves)
      await em.query(
        `INSERT INTO custody_entries (token_id, operator_id, user_id, amount) VALUES ($1, $2, $3, $4::numeric)
         ON CONFLICT (token_id, operator_id, user_id) DO UPDATE SET amount = custody_entries.amount + EXCLUDED.amount`,
        [m.tokenId, m.operatorId, m.userId, m.delta],
      );
  }

  async custodyOf(em: EntityManager | undefined, tokenId: string, operatorId: string, userId: string): Promise<bigint> {
    const [r] = await (em ?? this.ds.manager).query<Array<{ amount: string }>>(
      'SELECT amount::text AS amount FROM custody_entries WHERE token_id = $1 AND operator_id = $2 AND user_id = $3',
      [tokenId, operatorId, userId],
    );
    return BigInt(r?.amount ?? '0');
  }

  /** A user's custody balance across firms (the balance view). */
  async userCustody(tokenId: string, userId: string): Promise<string> {
    const [c] = await this.ds.query<Array<{ s: string | null }>>(
      'SELECT sum(amount)::text AS s FROM custody_entries WHERE token_id = $1 AND user_id = $2',
      [tokenId, userId],
    );
    return c?.s ?? '0';
  }

  ledger(tokenId: string, operatorId: string): Promise<Array<{ user_id: string; amount: string }>> {
    return this.ds.query(
      `SELECT user_id, amount::text AS amount FROM custody_entries WHERE token_id = $1 AND operator_id = $2 AND amount <> 0 ORDER BY user_id`,
      [tokenId, operatorId],
    );
  }

  /** Every firm's ledger total per active token, for reconciliation. */
  ledgerTotals(): Promise<Array<{ token_id: string; address: string | null; operator_id: string; s: string }>> {
    return this.ds.query(
      `SELECT c.token_id, t.address, c.operator_id, sum(c.amount)::text AS s
         FROM custody_entries c JOIN tokens t ON t.id = c.token_id
        GROUP BY c.token_id, t.address, c.operator_id`,
    );
  }
}
