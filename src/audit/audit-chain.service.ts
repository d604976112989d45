/**
 * Who may see which chain, and the streamed NDJSON export. A firm sees only its own chain
 * (`chain` = its id); another firm's chain answers 404 exactly like an unknown one. Anchors
 * shown to a firm carry only its own chain's head: the other heads would tell it which other
 * firms exist and how busy they are.
 */
import { Injectable } from '@nestjs/common';
import { firmOf, type Principal } from '../common/principal';
import { NotFoundError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
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

const EXPORT_PAGE = 1000;

@Injectable()
export class AuditChainService {
  constructor(
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
    const page = await this.repo.anchorsPage(firm, q);
    const items = page.items.map((a) => {
      const dto = this.anchorDto(a);
      return firm ? { ...dto, heads: dto.heads.filter((h) => h.chain === firm) } : dto;
    });
    return { items, nextCursor: page.nextCursor };
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
