/**
 * Stage 2, broadcasting: per signer and in nonce order, only what is committed. Sent one by
 * one and never more than MAX_UNMINED_PER_SIGNER ahead of what the node has mined: a node
 * that is sent faster than it mines piles them up (Anvil, past a few thousand blocks, then
 * stops mining at all), and a real node's pool keeps only so many per account. Sends of one
 * account never overlap, whoever sends (the queue, a re-broadcast, a fee bump): concurrent
 * sends from one account stall a node that mines on arrival (Anvil automine).
 */
import { Injectable, Logger } from '@nestjs/common';
import type { Hex } from 'viem';
import { ChainService } from '../../chain/chain.service';
import { firstLine } from '../../common/logging';
import { PipelineState } from './state';
import type { Signed } from './types';

/** Sent but not mined, per signer, at most (the node's pool and mining pace set the rest). */
const MAX_UNMINED_PER_SIGNER = 64;

@Injectable()
export class Broadcasting {
  private readonly logger = new Logger('Pipeline');

  constructor(
    private readonly chain: ChainService,
    private readonly state: PipelineState,
  ) {}

  /** Broadcast queues not yet drained for `address` (signing stays at most one batch ahead). */
  backlog(address: string): number {
    return this.state.broadcasts.get(address)?.length ?? 0;
  }

  /** Queues committed transactions behind the signer's earlier ones. */
  enqueue(address: `0x${string}`, signed: Signed[]): void {
    const { broadcasts, unsent, sent } = this.state;
    const pending = broadcasts.get(address) ?? [];
    broadcasts.set(address, pending);
    for (const s of signed) unsent.add(s.id);
    const previous = pending.at(-1) ?? Promise.resolve();
    const mine: Promise<void> = previous.then(async () => {
      for (const s of signed) {
        // Shutting down: what is committed and not sent is sent after the restart (receipt stage).
        if (!(await this.roomToSend(address, s.nonce))) break;
        await this.send(address, s.id, s.raw);
        unsent.delete(s.id);
        sent.set(s.id, -1n);
      }
      void pending.splice(pending.indexOf(mine), 1);
      if (!pending.length && broadcasts.get(address) === pending) broadcasts.delete(address);
      this.state.wakeReceipts();
      this.state.wakeSigning();
    });
    pending.push(mine);
  }

  /** Everything queued for sending, for shutdown. */
  drained(): Promise<void> {
    return Promise.all([...this.state.broadcasts.values()].flat()).then(() => undefined);
  }

  /** Waits until `nonce` is fewer than MAX_UNMINED_PER_SIGNER ahead of the signer's mined count; false when shutting down. */
  private async roomToSend(address: `0x${string}`, nonce: number): Promise<boolean> {
    for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
      if (this.state.stopping) return false;
      const mined = this.state.mined.get(address);
      if (mined !== undefined && nonce - mined < MAX_UNMINED_PER_SIGNER) return true;
      const count = await this.chain.pipeline.getTransactionCount({ address, blockTag: 'latest' }).catch(() => undefined);
      if (count !== undefined) this.state.mined.set(address, count);
      if (count !== undefined && nonce - count < MAX_UNMINED_PER_SIGNER) return true;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** One send at a time per signer, whoever sends. */
  send(address: `0x${string}`, id: string, raw: Hex): Promise<void> {
    const { sending } = this.state;
    const previous = sending.get(address) ?? Promise.resolve();
    const mine = previous.then(() => this.broadcast(id, raw));
    sending.set(address, mine);
    void mine.finally(() => {
      if (sending.get(address) === mine) sending.delete(address);
    });
    return mine;
  }

  /** Never throws: what the node did not take is sent again by the receipt stage. */
  private async broadcast(id: string, raw: Hex): Promise<void> {
    try {
      await this.chain.sender.sendRawTransaction({ serializedTransaction: raw });
    } catch (e) {
      // "already known" and friends are fine; a nonce taken by another transaction is found by the receipt stage.
      const msg = firstLine(e);
      if (!/already known|known transaction|nonce too low/i.test(msg)) this.logger.warn(`broadcast of ${id} failed: ${msg}; will retry`);
    }
  }
}
