/**
 * Offline check of an NDJSON export (`GET /v1/audit-events/export`), used by the CLI
 * `audit:verify`: every event line is re-hashed, `prevHash` must be the previous line's `hash`
 * and `seq` must be continuous; every `{"anchor": …}` line's head of the exported chain must
 * be the hash of the event at that seq, and its digest must be the hash of its heads when the
 * export carries all of them (an admin's export; a firm's carries only its own chain's head).
 * An export starting at seq 1 is checked from genesis; one starting later trusts its first prevHash.
 */
import { anchorDigest, eventHash, GENESIS_HASH, type ChainedEvent, type ChainHead } from './audit-hash';

interface ExportAnchor {
  id: string;
  heads: ChainHead[];
  headsComplete: boolean;
  digest: string;
  txHash: string;
  blockNumber: number;
  from: string;
  at: string;
}

export interface ExportCheck {
  chain: string | null;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  headHash: string | null;
  anchors: ExportAnchor[];
  problems: string[];
}

type ExportLine = ChainedEvent & { hash: string };

export function checkExport(text: string): ExportCheck {
  const out: ExportCheck = { chain: null, events: 0, firstSeq: null, lastSeq: null, headHash: null, anchors: [], problems: [] };
  const hashes = new Map<number, string>();
  let prev: ExportLine | null = null;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      out.problems.push(`line ${i + 1}: not JSON`);
      return;
    }
    if (v && typeof v === 'object' && 'anchor' in v) {
      out.anchors.push((v as { anchor: ExportAnchor }).anchor);
      return;
    }
    const e = v as ExportLine;
    if (typeof e.seq !== 'number' || typeof e.hash !== 'string' || typeof e.prevHash !== 'string' || typeof e.chain !== 'string') {
      out.problems.push(`line ${i + 1}: not an event line`);
      return;
    }
    if (out.chain === null) out.chain = e.chain;
    if (e.chain !== out.chain) out.problems.push(`seq ${e.seq}: belongs to chain ${e.chain}, not ${out.chain}`);
    if (prev) {
      if (e.seq !== prev.seq + 1) out.problems.push(`seq ${prev.seq + 1}: missing (next line has seq ${e.seq})`);
      if (e.prevHash !== prev.hash) out.problems.push(`seq ${e.seq}: prevHash is not the hash of seq ${prev.seq}`);
    } else {
      out.firstSeq = e.seq;
      if (e.seq === 1 && e.prevHash !== GENESIS_HASH) out.problems.push('seq 1: prevHash is not the genesis hash (64 zeros)');
    }
    const { hash, ...event } = e;
    let recomputed: string | null = null;
    try {
      recomputed = eventHash(event);
    } catch {
      /* reported below */
    }
    if (recomputed !== hash) out.problems.push(`seq ${e.seq}: content does not match its hash`);
    hashes.set(e.seq, hash);
    out.events++;
    out.lastSeq = e.seq;
    out.headHash = hash;
    prev = e;
  });
  for (const a of out.anchors) {
    for (const h of a.heads.filter((x) => x.chain === out.chain)) {
      const at = hashes.get(h.seq);
      if (at === undefined) out.problems.push(`anchor ${a.id}: anchored seq ${h.seq} is not in the export`);
      else if (at !== h.hash) out.problems.push(`anchor ${a.id}: the chain no longer passes through the anchored head at seq ${h.seq}`);
    }
    if (a.headsComplete && anchorDigest(a.heads) !== a.digest) out.problems.push(`anchor ${a.id}: digest is not the hash of its heads`);
  }
  return out;
}
