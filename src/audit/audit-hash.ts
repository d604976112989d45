/**
 * The hashing rules of the verifiable audit trail, exactly as the API contract pins them:
 * hash = hex(SHA-256(prevHash + "\n" + JCS(event))), JCS per RFC 8785 (the `canonicalize`
 * package, the reference implementation by the RFC's authors), a chain starts from 64 zeros;
 * an anchor's digest = SHA-256 over the sorted `chain:seq:hash` lines joined by "\n" (no
 * trailing newline). Pure functions only: the chainer, `verify`, the anchorer and the offline
 * CLI all use these, so there is one definition.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

export const GENESIS_HASH = '0'.repeat(64);
export const PLATFORM_CHAIN = 'platform';

/** The hashed event: the export line without `hash`. `at` is ISO-8601 UTC with microseconds. */
export interface ChainedEvent {
  seq: number;
  prevHash: string;
  chain: string;
  id: string;
  at: string;
  actor: { type: string; id: string | null };
  action: string;
  subject: { type: string; id: string } | null;
  outcome: string;
  details: unknown;
  requestId: string | null;
}

export interface ChainHead {
  chain: string;
  seq: number;
  hash: string;
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

export function jcs(value: unknown): string {
  const s = canonicalize(value);
  if (s === undefined) throw new Error('value cannot be canonicalized');
  return s;
}

export function eventHash(e: ChainedEvent): string {
  const { seq, prevHash, chain, id, at, actor, action, subject, outcome, details, requestId } = e;
  return sha256Hex(`${prevHash}\n${jcs({ seq, prevHash, chain, id, at, actor, action, subject, outcome, details, requestId })}`);
}

/** The lines an anchor commits to, sorted by code unit (chain ids are ASCII). */
function anchorLines(heads: readonly ChainHead[]): string[] {
  return heads.map((h) => `${h.chain}:${h.seq}:${h.hash}`).sort();
}

/** Hex SHA-256 of the sorted head lines: the data of the anchor transaction (as 0x…). */
export function anchorDigest(heads: readonly ChainHead[]): string {
  return sha256Hex(anchorLines(heads).join('\n'));
}
