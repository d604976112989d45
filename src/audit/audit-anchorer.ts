/**
 * Anchors the heads of all audit chains on chain every AUDIT_ANCHOR_INTERVAL, when something
 * changed: the platform's anchor key (kind `audit-anchor`, envelope-sealed like every key,
 * holding no role on any token) sends a 0-value transaction to itself whose data is the
 * digest of the sorted `chain:seq:hash` lines.
 *
 * The transaction goes through the transaction queue like every other one (kind and signer
 * kind `audit-anchor`, requested by kagi for the platform): the pipeline allocates the nonce,
 * opens the key through the TransactionSigner port, stores the signed bytes before it
 * broadcasts, bumps a stuck fee and re-broadcasts after a crash. The anchorer builds its call
 * (the digest, to the key's own address) and records the anchor once the row is confirmed.
 *
 * Each anchor must extend the previous one: before a chain's new head is anchored, the chain
 * segment since its last anchored head is re-hashed from the events and must pass through that
 * head. A chain that does not keeps its last good head in the new anchor (its new head is not
 * anchored) and raises an alarm: an error log line, an `audit.anchor_alarm` event and
 * `kagi_audit_anchor_alarms_total`.
 *
 * One instance anchors at a time (an advisory lock held for the whole round) and one anchor is
 * in flight at a time: a round waits a few seconds for its transaction; one not final by then is
 * recorded by a later round of this process. A transaction that ends failed (or is cancelled)
 * anchors nothing; the next round anchors the heads again. After a crash between the
 * confirmation and the insert the pipeline still sends the row exactly once; the next round
 * anchors again (a harmless extra transaction, not recorded as an anchor).
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import { GasFunding } from '../chain/gas-funding';
import { firstLine } from '../common/logging';
import { Loop } from '../common/loop';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../common/metrics';
import { SealedKeyStores, repositoryStore } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import { ANCHOR_KIND, type AnchorQueue } from './anchor-queue';
import { AuditChainRepository, type ChainRow } from './audit-chain.repository';
import { anchorDigest, eventHash, GENESIS_HASH, PLATFORM_CHAIN, type ChainHead } from './audit-hash';
import { AuditSink } from './audit-sink';
import { AuditAnchor } from './entities/audit-anchor.entity';
import { AuditAnchorKey } from './entities/audit-anchor-key.entity';

/** Advisory lock key of the anchorer ('kagi', 'anchor'). */
const ANCHOR_LOCK = [0x6b616769, 0x616e63] as const;
const SEGMENT_PAGE = 5000;
/** How long a round waits for its anchor transaction to be final (a later round records it otherwise). */
const WAIT_MS = 15_000;
const POLL_MS = 100;
/** Anchor transaction ids remembered to tell the anchorer's own events from others. */
const OWN_REMEMBERED = 1000;

interface InFlight {
  transactionId: string;
  heads: ChainHead[];
  digest: string;
  fromAddress: string;
}

@Injectable()
export class AuditAnchorer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuditAnchorer');
  private readonly loop: Loop;
  private readonly alarms;
  private readonly anchored;
  /** Alarms already raised (chain:seq of the head that is no longer passed through), raised once per process. */
  private readonly raised = new Set<string>();
  /** The anchor transaction queued and not yet final, if any (one at a time). */
  private inFlight: InFlight | null = null;
  /** Ids of this process's anchor transactions: their lifecycle events do not count as a change. */
  private readonly own = new Set<string>();
  private stopping = false;
  /** Registered by `transactions` at start (none in the secure-room CLI). */
  private queue: AnchorQueue | undefined;

  constructor(
    private readonly repo: AuditChainRepository,
    private readonly keys: SigningKeys,
    private readonly gas: GasFunding,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
    private readonly http: HttpAdapterHost,
    stores: SealedKeyStores,
    metrics: Metrics,
  ) {
    this.loop = new Loop(
      config.audit.anchorIntervalMs,
      async () => {
        await this.round();
        return false;
      },
      (e) => this.logger.warn(`anchor round failed: ${firstLine(e)}`),
    );
    this.alarms = metrics.counter('kagi_audit_anchor_alarms_total', 'Chain heads that did not extend their last anchor (not anchored)');
    this.anchored = metrics.counter('kagi_audit_anchors_total', 'Anchors of the audit chain heads sent on chain');
    stores.register(repositoryStore(ANCHOR_KIND, repo.anchorKeys()));
  }

  /** The transaction queue's side of the port: anchors are sent through it. */
  useQueue(queue: AnchorQueue): void {
    this.queue = queue;
  }

  /** Runs in the API process only (not in the secure-room CLI, which has no HTTP server). */
  onApplicationBootstrap(): void {
    if (this.config.offline || !this.http.httpAdapter) return;
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.loop.stop();
  }

  /**
   * One round: records the anchor in flight once its transaction is confirmed; otherwise
   * queues an anchor of the current heads when something changed since the last anchor.
   * Returns the anchor recorded, or null (nothing changed, still in flight, or another
   * instance is anchoring).
   */
  async round(): Promise<AuditAnchor | null> {
    const queue = this.queue;
    if (!queue) throw new Error('no transaction queue registered for the audit anchors');
    return this.repo.locked(ANCHOR_LOCK, async (em) => {
      if (this.inFlight) {
        const settled = await this.settle(queue, em, this.inFlight, 0);
        if (settled !== 'failed') return settled;
      }
      const last = await this.repo.lastAnchor(em);
      const previous = new Map((last?.heads ?? []).map((h) => [h.chain, h]));
      const current = await this.repo.allHeads(em);
      const heads: ChainHead[] = [];
      let changed = false;
      const key = await this.anchorKey();
      for (const head of current) {
        const before = previous.get(head.chain);
        previous.delete(head.chain);
        if (before && before.seq === head.seq && before.hash === head.hash) {
          heads.push(before);
          continue;
        }
        const check = await this.extends(head, before, key.signerAddress);
        if (check.ok) {
          heads.push(head);
          changed ||= check.meaningful;
        } else {
          if (before) heads.push(before);
          await this.alarm(head, before, check.brokenSeq, em);
        }
      }
      // A chain whose rows are all gone keeps its anchored head, and is an alarm too.
      for (const gone of previous.values()) {
        heads.push(gone);
        await this.alarm({ chain: gone.chain, seq: 0, hash: GENESIS_HASH }, gone, 1, em);
      }
      if (!changed) return null;
      heads.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
      const sent = await this.send(queue, key, heads, anchorDigest(heads));
      const settled = await this.settle(queue, em, sent, WAIT_MS);
      return settled === 'failed' ? null : settled;
    });
  }

  /** Queues the anchor transaction (committed at once, so the pipeline signs it) and wakes the pipeline. */
  private async send(queue: AnchorQueue, key: AuditAnchorKey, heads: ChainHead[], digest: string): Promise<InFlight> {
    const transactionId = randomUUID();
    this.remember(transactionId);
    await this.repo.transaction((em) =>
      queue.enqueue(em, { id: transactionId, key: { id: key.id, address: key.signerAddress }, digest, heads }),
    );
    queue.wake();
    this.inFlight = { transactionId, heads, digest, fromAddress: key.signerAddress };
    return this.inFlight;
  }

  /**
   * Waits up to `waitMs` for the anchor's transaction: confirmed → the anchor is recorded and
   * returned; ended otherwise → 'failed' (the heads are anchored again); not final yet → null.
   */
  private async settle(queue: AnchorQueue, em: EntityManager, a: InFlight, waitMs: number): Promise<AuditAnchor | null | 'failed'> {
    const until = Date.now() + waitMs;
    let outcome = await queue.outcome(a.transactionId);
    while (outcome.state === 'pending' && Date.now() < until && !this.stopping) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      outcome = await queue.outcome(a.transactionId);
    }
    if (outcome.state === 'pending') return null;
    this.inFlight = null;
    if (outcome.state === 'ended') {
      this.logger.warn(`anchor transaction ${a.transactionId} ended without anchoring (${outcome.reason}): the heads are anchored again`);
      return 'failed';
    }
    const anchor = await this.repo.insertAnchor(em, {
      heads: a.heads,
      digest: a.digest,
      txHash: outcome.txHash,
      blockNumber: outcome.blockNumber,
      fromAddress: a.fromAddress,
    });
    this.anchored.inc();
    return anchor;
  }

  private remember(transactionId: string): void {
    this.own.add(transactionId);
    if (this.own.size > OWN_REMEMBERED) this.own.delete(this.own.values().next().value!);
  }

  /**
   * The anchorer's own events (its key's openings, its transactions' lifecycle) are no change
   * worth an anchor, so anchoring does not keep itself going.
   */
  private isOwn(e: NonNullable<ChainRow['event']>, anchorAddress: string): boolean {
    const details = (e.details ?? {}) as { address?: string; kind?: string };
    if (e.action === 'key.open') return e.subject?.type === `${ANCHOR_KIND}-key` && details.address === anchorAddress;
    if (e.subject?.type !== 'transaction' || !e.action.startsWith('transaction.')) return false;
    if (details.kind === ANCHOR_KIND) this.remember(e.subject.id);
    return this.own.has(e.subject.id);
  }

  /**
   * Does the chain, re-hashed from its events, pass from the last anchored head to `head`?
   * `meaningful` is false when the only new events are the anchorer's own.
   */
  private async extends(
    head: ChainHead,
    before: ChainHead | undefined,
    anchorAddress: string,
  ): Promise<{ ok: true; meaningful: boolean } | { ok: false; brokenSeq: number }> {
    if (before && head.seq < before.seq) return { ok: false, brokenSeq: head.seq + 1 };
    let expected = before ? before.seq : 1;
    let prev = before ? before.hash : GENESIS_HASH;
    let meaningful = false;
    // The anchored row itself must still carry the anchored hash.
    const from = before ? before.seq : 1;
    for (let at = from; at <= head.seq;) {
      const rows = await this.repo.rows(head.chain, at, head.seq, SEGMENT_PAGE);
      if (!rows.length) return { ok: false, brokenSeq: at };
      for (const r of rows) {
        if (r.seq !== expected) return { ok: false, brokenSeq: expected };
        if (before && r.seq === before.seq) {
          if (r.hash !== before.hash) return { ok: false, brokenSeq: r.seq };
        } else {
          if (!r.event || r.prevHash !== prev || eventHash({ seq: r.seq, prevHash: r.prevHash, ...r.event }) !== r.hash)
            return { ok: false, brokenSeq: r.seq };
          meaningful ||= !(head.chain === PLATFORM_CHAIN && this.isOwn(r.event, anchorAddress));
        }
        prev = r.hash;
        expected = r.seq + 1;
      }
      at = expected;
    }
    return { ok: true, meaningful };
  }

  private async alarm(head: ChainHead, before: ChainHead | undefined, brokenSeq: number, em: EntityManager): Promise<void> {
    const id = `${head.chain}:${before?.seq ?? 0}:${head.seq}`;
    if (this.raised.has(id)) return;
    this.raised.add(id);
    this.alarms.inc();
    this.logger.error(
      `ALARM audit chain ${head.chain} does not extend its last anchor (anchored seq ${before?.seq ?? 0}, head seq ${head.seq}, first broken seq ${brokenSeq}): the new head is not anchored`,
    );
    await this.audit.record(
      {
        actor: { type: 'system' },
        operatorId: null,
        action: 'audit.anchor_alarm',
        subject: { type: 'audit-chain', id: head.chain },
        outcome: 'failure',
        details: { chain: head.chain, anchoredSeq: before?.seq ?? null, headSeq: head.seq, brokenSeq },
      },
      em,
    );
  }

  /**
   * The platform's anchor key, created (sealed, stored, funded in dev) on first use, in a
   * transaction of its own: the pipeline must find it committed to sign with it. The round's
   * advisory lock keeps a second instance from creating another.
   */
  private async anchorKey(): Promise<AuditAnchorKey> {
    const existing = await this.repo.anchorKeys().findOne({ where: {}, order: { createdAt: 'ASC' } });
    if (existing) return existing;
    const id = randomUUID();
    const { address, sealed } = await this.keys.create({ kind: ANCHOR_KIND, id });
    const row = await this.repo.transaction(async (em) => {
      const repo = this.repo.anchorKeys(em);
      const created = repo.create({
        id,
        signerAddress: address,
        encryptedKey: sealed.encryptedKey,
        encryptedDataKey: sealed.encryptedDataKey,
        kmsKeyId: sealed.kmsKeyId,
      });
      await repo.insert(created);
      await this.audit.record(
        {
          actor: { type: 'system' },
          operatorId: null,
          action: 'audit.anchor_key_created',
          subject: { type: `${ANCHOR_KIND}-key`, id },
          outcome: 'success',
          details: { address },
        },
        em,
      );
      return created;
    });
    this.logger.log(`audit anchor key created: ${address} (fund it with gas outside the embedded default)`);
    await this.gas.fund(address);
    return row;
  }
}
