/**
 * The `governance_proposals` table (owned by src/governance): under GOVERNANCE_SIGNER=external,
 * the unsigned call of each governance transaction for the multisig to execute.
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { GovernanceProposal } from './external-governance-signer';

export interface ProposalRow {
  id: string;
  transactionId: string;
  kind: string;
  tokenId: string | null;
  to: `0x${string}`;
  data: `0x${string}`;
  value: string;
  chainId: number;
  description: string;
  status: 'open' | 'executed';
  account: string | null;
  createdAt: Date;
  executedAt: Date | null;
  executedBlock: string | null;
}

const COLUMNS = `p.id, p.transaction_id AS "transactionId", t.kind, t.token_id AS "tokenId", p.to_address AS "to", p.data, p.value::text AS value,
  p.chain_id AS "chainId", p.description, p.status, t.call_args->>'account' AS account, p.created_at AS "createdAt",
  p.executed_at AS "executedAt", p.executed_block::text AS "executedBlock"`;

@Injectable()
export class ProposalsRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  async insert(em: EntityManager, transactionId: string, p: GovernanceProposal): Promise<void> {
    await em.query(
      `INSERT INTO governance_proposals (id, transaction_id, to_address, data, value, chain_id, description) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [randomUUID(), transactionId, p.to, p.data, p.value, p.chainId, p.description],
    );
  }

  /** Newest first; `open` only when asked. */
  list(status: 'open' | 'executed' | undefined, limit: number): Promise<ProposalRow[]> {
    return this.ds.query<ProposalRow[]>(
      `SELECT ${COLUMNS} FROM governance_proposals p JOIN transactions t ON t.id = p.transaction_id
        WHERE ($1::text IS NULL OR p.status = $1) ORDER BY p.created_at DESC, p.id LIMIT $2`,
      [status ?? null, limit],
    );
  }

  /** Open proposals, oldest first (the watcher reads their effects on chain). */
  open(limit: number): Promise<ProposalRow[]> {
    return this.ds.query<ProposalRow[]>(
      `SELECT ${COLUMNS} FROM governance_proposals p JOIN transactions t ON t.id = p.transaction_id
        WHERE p.status = 'open' ORDER BY p.created_at, p.id LIMIT $1`,
      [limit],
    );
  }

  /** Marks the proposal executed if it was still open (true: this call did). */
  async executed(em: EntityManager, id: string, block: bigint): Promise<boolean> {
    const [, n] = await em.query<[unknown[], number]>(
      `UPDATE governance_proposals SET status = 'executed', executed_block = $2, executed_at = now() WHERE id = $1 AND status = 'open'`,
      [id, block.toString()],
    );
    return n > 0;
  }
}
