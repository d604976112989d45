/**
 * Anchors the heads of all audit chains on chain every AUDIT_ANCHOR_INTERVAL, when something
 * changed: the platform's anchor key (kind `audit-anchor`, envelope-sealed like every key,
 * holding no role on any token) sends a 0-value transaction to itself whose data is the
 * digest of the sorted `chain:seq:hash` lines.
 *
 * Each anchor must extend the previous one: before a chain's new head is anchored, the chain
 * segment since its last anchored head is re-hashed from the events and must pass through that
 * head. A chain that does not keeps its last good head in the new anchor (its new head is not
 * anchored) and raises an alarm: an error log line, an `audit.anchor_alarm` event and
 * `kagi_audit_anchor_alarms_total`.
 *
 * One instance anchors at a time (an advisory lock held for the whole round); anchors are sent
 * one at a time. `send` is the one place that talks to the chain, so it can move to the
 * transaction queue (kind `audit-anchor`) without touching the rest. A crash between the send
 * and the insert leaves a harmless orphan transaction; the next round anchors again.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import type { Hex } from 'viem';
import { ChainService } from '../chain/chain.service';
import { GasFunding } from '../chain/gas-funding';
import { firstLine } from '../common/logging';
import { Loop } from '../common/loop';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../common/metrics';
import { SealedKeyStores, repositoryStore } from '../kms/sealed-key-stores';
import { sealedKeyOf, type KeyOwner, type KeyOwnerKind } from '../kms/sealed-key';
import { SigningKeys } from '../kms/signing-keys';
import { AuditChainRepository } from './audit-chain.repository';
import { anchorDigest, eventHash, GENESIS_HASH, PLATFORM_CHAIN, type ChainHead } from './audit-hash';
import { AuditSink } from './audit-sink';
import { AuditAnchor } from './entities/audit-anchor.entity';
import { AuditAnchorKey } from './entities/audit-anchor-key.entity';

/** Advisory lock key of the anchorer ('kagi', 'anchor'). */
const ANCHOR_LOCK = [0x6b616769, 0x616e63] as const;
/** The key owner kind of the anchor key (to be added to KeyOwnerKind in src/kms/sealed-key.ts). */
const ANCHOR_KEY_KIND: KeyOwnerKind = 'audit-anchor';
const SEGMENT_PAGE = 5000;

export interface AnchorSent {
  txHash: Hex;
  blockNumber: bigint;
}

@Injectable()
export class AuditAnchorer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuditAnchorer');
  private readonly loop: Loop;
  private readonly alarms;
  private readonly anchored;
  /** Alarms already raised (chain:seq of the head that is no longer passed through), raised once per process. */
  private readonly raised = new Set<string>();

  constructor(
    private readonly repo: AuditChainRepository,
    private readonly keys: SigningKeys,
    private readonly chain: ChainService,
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
    stores.register(repositoryStore(ANCHOR_KEY_KIND, repo.anchorKeys()));
  }

  /** Runs in the API process only (not in the secure-room CLI, which has no HTTP server). */
  onApplicationBootstrap(): void {
    if (this.config.offline || !this.http.httpAdapter) return;
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  /**
   * One round: anchors the current heads when something changed since the last anchor.
   * Returns the new anchor, or null (nothing changed, or another instance is anchoring).
   */
  async round(): Promise<AuditAnchor | null> {
    return this.repo.locked(ANCHOR_LOCK, async (em) => {
      const last = await this.repo.lastAnchor(em);
      const previous = new Map((last?.heads ?? []).map((h) => [h.chain, h]));
      const current = await this.repo.allHeads(em);
      const heads: ChainHead[] = [];
      let changed = false;
      const key = await this.anchorKey(em);
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
      const digest = anchorDigest(heads);
      const sent = await this.send(key, digest);
      const anchor = await this.repo.insertAnchor(em, {
        heads,
        digest,
        txHash: sent.txHash,
        blockNumber: sent.blockNumber.toString(),
        fromAddress: key.signerAddress,
      });
      this.anchored.inc();
      return anchor;
    });
  }

  /**
   * Does the chain, re-hashed from its events, pass from the last anchored head to `head`?
   * `meaningful` is false when the only new events are the anchorer's own key openings, so
   * anchoring does not keep itself going.
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
          meaningful ||= !(
            head.chain === PLATFORM_CHAIN &&
            r.event.action === 'key.open' &&
            r.event.subject?.type === `${ANCHOR_KEY_KIND}-key` &&
            (r.event.details as { address?: string } | null)?.address === anchorAddress
          );
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

  /** The platform's anchor key, created (sealed, stored, funded in dev) on first use. */
  private async anchorKey(em: EntityManager): Promise<AuditAnchorKey> {
    const repo = this.repo.anchorKeys(em);
    const existing = await repo.findOne({ where: {}, order: { createdAt: 'ASC' } });
    if (existing) return existing;
    const id = (await em.query<Array<{ id: string }>>('SELECT gen_random_uuid()::text AS id'))[0]!.id;
    const { address, sealed } = await this.keys.create({ kind: ANCHOR_KEY_KIND, id });
    const row = repo.create({
      id,
      signerAddress: address,
      encryptedKey: sealed.encryptedKey,
      encryptedDataKey: sealed.encryptedDataKey,
      kmsKeyId: sealed.kmsKeyId,
    });
    await repo.insert(row);
    await this.audit.record(
      {
        actor: { type: 'system' },
        operatorId: null,
        action: 'audit.anchor_key_created',
        subject: { type: `${ANCHOR_KEY_KIND}-key`, id },
        outcome: 'success',
        details: { address },
      },
      em,
    );
    this.logger.log(`audit anchor key created: ${address} (fund it with gas outside the embedded default)`);
    await this.gas.fund(address);
    return row;
  }

  /** Sends the anchor transaction and waits for it to be mined: the seam for the transaction queue (kind `audit-anchor`). */
  async send(key: AuditAnchorKey, digest: string): Promise<AnchorSent> {
    const owner: KeyOwner = { kind: ANCHOR_KEY_KIND, id: key.id };
    const address = key.signerAddress;
    const data: Hex = `0x${digest}`;
    const chain = await this.chain.chain();
    const [nonce, fees, gas] = await Promise.all([
      this.chain.client.getTransactionCount({ address, blockTag: 'pending' }),
      this.chain.client.estimateFeesPerGas(),
      this.chain.client.estimateGas({ account: address, to: address, value: 0n, data }),
    ]);
    const cap = this.config.chain.fees.maxFeeWei;
    const maxFeePerGas = fees.maxFeePerGas > cap ? cap : fees.maxFeePerGas;
    const maxPriorityFeePerGas = fees.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : fees.maxPriorityFeePerGas;
    const raw = await this.keys.withSigner(
      owner,
      sealedKeyOf(key),
      { actor: { type: 'system' }, operatorId: null, purpose: 'audit-anchor' },
      (account) =>
        account.signTransaction({
          type: 'eip1559',
          chainId: chain.id,
          nonce,
          to: address,
          value: 0n,
          data,
          gas,
          maxFeePerGas,
          maxPriorityFeePerGas,
        }),
    );
    const txHash = await this.chain.sender.sendRawTransaction({ serializedTransaction: raw });
    const receipt = await this.chain.client.waitForTransactionReceipt({
      hash: txHash,
      confirmations: this.config.chain.confirmations,
      timeout: 120_000,
    });
    if (receipt.status !== 'success') throw new Error(`anchor transaction ${txHash} reverted`);
    return { txHash, blockNumber: receipt.blockNumber };
  }
}
