/**
 * Checks the audit chains against their content and against every on-chain anchor:
 * - the first event whose content no longer matches its hash, or whose prevHash is not its
 *   predecessor's hash, or whose row is gone, or a missing seq;
 * - every anchored head the chain no longer passes through (a rewritten row with every later
 *   hash recomputed, or deleted tail rows), reported as the first seq no still-matching anchor
 *   vouches for;
 * - every anchor against its transaction on chain (data = digest, sent by the anchor key to
 *   itself) and against its own heads, so a forged anchor row is found too.
 * Confirmed anchor transactions never change, so what was read from the chain is kept (by tx hash).
 */
import { Injectable } from '@nestjs/common';
import type { Hex } from 'viem';
import { ChainService, ChainUnavailableError } from '../chain/chain.service';
import { AuditChainRepository } from './audit-chain.repository';
import { anchorDigest, eventHash, GENESIS_HASH, type ChainHead } from './audit-hash';
import { AuditAnchor } from './entities/audit-anchor.entity';

type ProblemReason = 'hash-mismatch' | 'prev-hash-mismatch' | 'event-missing' | 'seq-missing' | 'anchor-mismatch' | 'anchor-forged';

export interface ChainReport {
  chain: string;
  events: number;
  headHash: string;
  firstBrokenSeq: number | null;
  lastAnchoredSeq: number | null;
  /** What was found, earliest first (empty when the chain verifies). */
  problems: Array<{ seq: number; reason: ProblemReason; anchorId?: string }>;
}

export interface VerifyReport {
  ok: boolean;
  chains: ChainReport[];
}

const PAGE = 5000;

@Injectable()
export class AuditVerifier {
  /** tx hash → what the chain says (input, from, to); only confirmed transactions are kept. */
  private readonly onChain = new Map<string, { input: string; from: string; to: string | null; blockNumber: bigint }>();

  constructor(
    private readonly repo: AuditChainRepository,
    private readonly chain: ChainService,
  ) {}

  async verify(chains: readonly string[]): Promise<VerifyReport> {
    const anchors = await this.repo.anchors();
    const forged = new Set<string>();
    for (const a of anchors) if (!(await this.anchorHolds(a))) forged.add(a.id);
    const reports: ChainReport[] = [];
    for (const chain of chains) {
      const anchored = anchors.flatMap((a) =>
        a.heads.filter((h) => h.chain === chain).map((h) => ({ seq: h.seq, hash: h.hash, anchorId: a.id, forged: forged.has(a.id) })),
      );
      reports.push(await this.verifyChain(chain, anchored));
    }
    return { ok: reports.every((r) => r.firstBrokenSeq === null), chains: reports };
  }

  /** The anchor's digest is over its own heads, and it is the data of its transaction on chain. */
  async anchorHolds(a: AuditAnchor): Promise<boolean> {
    if (anchorDigest(a.heads) !== a.digest.trim()) return false;
    const tx = await this.transaction(a.txHash as Hex);
    if (!tx) return false;
    const from = a.fromAddress.toLowerCase();
    return (
      tx.input.toLowerCase() === `0x${a.digest.trim()}` &&
      tx.from.toLowerCase() === from &&
      tx.to?.toLowerCase() === from &&
      tx.blockNumber === BigInt(a.blockNumber)
    );
  }

  private async transaction(hash: Hex): Promise<{ input: string; from: string; to: string | null; blockNumber: bigint } | null> {
    const cached = this.onChain.get(hash);
    if (cached) return cached;
    let tx;
    try {
      tx = await this.chain.client.getTransaction({ hash });
    } catch (e) {
      if (e instanceof Error && e.name === 'TransactionNotFoundError') return null;
      throw new ChainUnavailableError('The chain node could not be reached to check the audit anchors; try again later');
    }
    if (tx.blockNumber === null) return null;
    const found = { input: tx.input, from: tx.from, to: tx.to, blockNumber: tx.blockNumber };
    if (this.onChain.size > 100_000) this.onChain.clear();
    this.onChain.set(hash, found);
    return found;
  }

  private async verifyChain(
    chain: string,
    anchored: Array<{ seq: number; hash: string; anchorId: string; forged: boolean }>,
  ): Promise<ChainReport> {
    const problems: ChainReport['problems'] = [];
    const wanted = new Set(anchored.map((a) => a.seq));
    const hashAt = new Map<number, string>();
    let expected = 1;
    let prev = GENESIS_HASH;
    let events = 0;
    let walkBroken = false;
    for (;;) {
      const rows = await this.repo.rows(chain, expected, null, PAGE);
      for (const r of rows) {
        if (!walkBroken) {
          if (r.seq !== expected) problems.push({ seq: expected, reason: 'seq-missing' });
          else if (r.prevHash !== prev) problems.push({ seq: r.seq, reason: 'prev-hash-mismatch' });
          else if (!r.event) problems.push({ seq: r.seq, reason: 'event-missing' });
          else if (eventHash({ seq: r.seq, prevHash: r.prevHash, ...r.event }) !== r.hash)
            problems.push({ seq: r.seq, reason: 'hash-mismatch' });
          walkBroken = problems.length > 0;
        }
        if (wanted.has(r.seq)) hashAt.set(r.seq, r.hash);
        events++;
        prev = r.hash;
        expected = r.seq + 1;
      }
      if (rows.length < PAGE) break;
    }
    // Anchors, in seq order: the first one the chain no longer passes through breaks it after
    // the last one it still does.
    let lastGood = 0;
    for (const a of [...anchored].sort((x, y) => x.seq - y.seq)) {
      const holds = !a.forged && hashAt.get(a.seq) === a.hash;
      if (holds) {
        lastGood = Math.max(lastGood, a.seq);
        continue;
      }
      problems.push({ seq: lastGood + 1, reason: a.forged ? 'anchor-forged' : 'anchor-mismatch', anchorId: a.anchorId });
      break;
    }
    problems.sort((x, y) => x.seq - y.seq);
    const good = anchored.filter((a) => !a.forged).map((a) => a.seq);
    return {
      chain,
      events,
      headHash: events ? prev : GENESIS_HASH,
      firstBrokenSeq: problems[0]?.seq ?? null,
      lastAnchoredSeq: good.length ? Math.max(...good) : null,
      problems,
    };
  }

  /** The chain's anchored heads, for the export (only the heads of `chain` unless `allHeads`). */
  async anchorsOf(chain: string, fromSeq: number, toSeq: number, allHeads: boolean): Promise<Array<AuditAnchor & { heads: ChainHead[] }>> {
    const anchors = await this.repo.anchors();
    return anchors
      .filter((a) => a.heads.some((h) => h.chain === chain && h.seq >= fromSeq && h.seq <= toSeq))
      .map((a) => Object.assign(a, { heads: allHeads ? a.heads : a.heads.filter((h) => h.chain === chain) }));
  }
}
