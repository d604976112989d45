/**
 * Who may see which chain, and the streamed NDJSON export. A firm sees only its own chain
 * (`chain` = its id); another firm's chain answers 404 exactly like an unknown one. Anchors
 * shown to a firm carry only its own chain's head: the other heads would tell it which other
 * firms exist and how busy they are.
 */
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Principal } from '../common/principal';
import { NotFoundError } from '../common/app-error';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from '../common/pagination';
import { AuditChainRepository } from './audit-chain.repository';
import { PLATFORM_CHAIN, type ChainHead } from './audit-hash';
import { AuditVerifier, type VerifyReport } from './audit-verifier';
import { AuditAnchor } from './entities/audit-anchor.entity';

export interface AnchorDto {
  id: string;
  heads: ChainHead[];
  digest: string;
  txHash: string;
  blockNumber: number;
  from: string;
  at: string;
}

/** The firm a principal acts for: a staff member's firm (operatorId), or the v1 firm principal itself. */
function firmOf(p: Principal): string | null {
  if (p.type === 'admin') return null;
  return (p as Principal & { operatorId?: string }).operatorId ?? p.id;
}

const EXPORT_PAGE = 1000;

@Injectable()
export class AuditChainService {
  constructor(
    private readonly ds: DataSource,
    private readonly repo: AuditChainRepository,
    private readonly verifier: AuditVerifier,
  ) {}

  async verify(p: Principal): Promise<VerifyReport> {
    const firm = firmOf(p);
    return this.verifier.verify(firm ? [firm] : await this.repo.chains());
  }

  /** The chain a principal asks for: a firm may name only its own; an admin any (default: the platform's). */
  chainFor(p: Principal, chain: string | undefined): string {
    const firm = firmOf(p);
    if (!firm) return chain ?? PLATFORM_CHAIN;
    if (chain !== undefined && chain !== firm) throw new NotFoundError('Audit chain');
    return firm;
  }

  /**
   * The export, one JSON line per event (the hashed fields and `hash`), then one
   * `{"anchor": …}` line per anchor of this chain within the exported range, so the CLI can
   * check the export offline and the anchors on chain.
   */
  async *exportLines(p: Principal, chain: string, fromSeq: number): AsyncGenerator<string> {
    let next = fromSeq;
    let last = 0;
    for (;;) {
      const rows = await this.repo.rows(chain, next, null, EXPORT_PAGE);
      for (const r of rows) {
        const e = r.event;
        const line = e
          ? { seq: r.seq, prevHash: r.prevHash, ...e, hash: r.hash }
          : { seq: r.seq, prevHash: r.prevHash, chain, id: null, hash: r.hash, missing: true };
        yield JSON.stringify(line) + '\n';
        last = r.seq;
        next = r.seq + 1;
      }
      if (rows.length < EXPORT_PAGE) break;
    }
    if (!last) return;
    const allHeads = firmOf(p) === null;
    for (const a of await this.verifier.anchorsOf(chain, fromSeq, last, allHeads))
      yield JSON.stringify({ anchor: { ...this.anchorDto(a), headsComplete: allHeads } }) + '\n';
  }

  async anchors(p: Principal, q: PageQuery): Promise<Page<AnchorDto>> {
    const firm = firmOf(p);
    const limit = q.limit ?? 20;
    const qb = this.ds
      .getRepository(AuditAnchor)
      .createQueryBuilder('a')
      .addSelect(`to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`, 'at_micros')
      .orderBy('a.at', 'DESC')
      .addOrderBy('a.id', 'DESC')
      .limit(limit + 1);
    if (firm) qb.andWhere(`a.heads @> :mine::jsonb`, { mine: JSON.stringify([{ chain: firm }]) });
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      qb.andWhere('(a.at < :ct OR (a.at = :ct AND a.id < :cid))', { ct: c.t, cid: c.id });
    }
    const { entities, raw } = await qb.getRawAndEntities<{ at_micros: string }>();
    const items = entities.slice(0, limit).map((a) => {
      const dto = this.anchorDto(a);
      return firm ? { ...dto, heads: dto.heads.filter((h) => h.chain === firm) } : dto;
    });
    const lastRaw = raw[limit - 1];
    const lastItem = entities[limit - 1];
    return { items, nextCursor: entities.length > limit && lastRaw && lastItem ? encodeCursor(lastRaw.at_micros, lastItem.id) : null };
  }

  private anchorDto(a: AuditAnchor): AnchorDto {
    return {
      id: a.id,
      heads: a.heads,
      digest: a.digest.trim(),
      txHash: a.txHash,
      blockNumber: Number(a.blockNumber),
      from: a.fromAddress,
      at: a.at.toISOString(),
    };
  }
}
