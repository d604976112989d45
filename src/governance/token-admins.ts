/**
 * Who holds each token contract's admin role (DEFAULT_ADMIN_ROLE, the same in contract versions
 * 1 and 2), read from the chain: the database says which tokens exist, never who their admin is.
 *
 * - `TokenAdminCheck` compares every active token's admin with the configured governance signer
 *   once at start-up, in the background, and shows what differs in readiness (`tokenAdmins`):
 *   a finding for ops (run `governance:handover`), never a failed readiness or a stopped start-up.
 *   While something differs, each readiness probe reads those tokens again, so a handover shows
 *   at once.
 * - `adminHandover` is the `governance:handover` CLI's per-token step: grant the admin role to
 *   governance from the old admin, check it on chain, then the old admin renounces it.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { encodeFunctionData, zeroHash, type Address, type Hash, type Hex, type PublicClient } from 'viem';
import { ChainService } from '../chain/chain.service';
import { securityTokenV1Abi } from '../chain/contracts/security-token-v1.abi';
import { firstLine } from '../common/logging';
import { Loop, mapLimit } from '../common/loop';
import { AppConfig } from '../config/app-config';
import { ReadinessContributors } from '../health/readiness-contributors';
import { TokensRepository, type TokenRef } from '../tokens/tokens.repository';
import { GovernanceService } from './governance.service';

/** DEFAULT_ADMIN_ROLE of OpenZeppelin AccessControl: bytes32(0). */
const ADMIN_ROLE: Hex = zeroHash;
/** Chain reads in flight at once. */
const READS = 20;
const RETRY_MS = 10_000;
/** How long a readiness probe waits for the mismatched tokens' new reads. */
const RECHECK_WAIT_MS = 1_500;

function holdsAdmin(client: PublicClient, token: Address, account: Address): Promise<boolean> {
  return client.readContract({ address: token, abi: securityTokenV1Abi, functionName: 'hasRole', args: [ADMIN_ROLE, account] });
}

export interface AdminMismatch {
  tokenId: string;
  symbol: string;
  address: Address;
  problem: string;
}

@Injectable()
export class TokenAdminCheck implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('TokenAdmins');
  private state: { at: string; governance: Address; checked: number; mismatches: AdminMismatch[] } | undefined;
  private lastError: string | undefined;
  private recheck: Promise<void> | undefined;
  private readonly loop = new Loop(
    RETRY_MS,
    () => this.run(),
    (e) => {
      this.lastError = firstLine(e);
      this.logger.warn(`token admin check failed (retrying): ${this.lastError}`);
    },
  );

  constructor(
    private readonly tokens: TokensRepository,
    private readonly chain: ChainService,
    private readonly governance: GovernanceService,
    private readonly readiness: ReadinessContributors,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.readiness.add('tokenAdmins', () => this.details());
  }

  onApplicationBootstrap(): void {
    if (!this.config.offline) this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  /** Readiness details: never throws (a mismatch or an unreachable chain is not an outage of kagi). */
  private async details(): Promise<Record<string, unknown>> {
    if (!this.state) return { pending: 'not checked yet', ...(this.lastError ? { lastError: this.lastError } : {}) };
    if (this.state.mismatches.length) {
      this.recheck ??= this.recheckMismatches()
        .catch((e: unknown) => {
          this.lastError = firstLine(e);
        })
        .finally(() => (this.recheck = undefined));
      // Bounded well under the probe's timeout: a slow node shows the last finding, never a failed probe.
      await Promise.race([this.recheck, new Promise((r) => setTimeout(r, RECHECK_WAIT_MS).unref())]);
    }
    const s = this.state;
    return {
      governance: s.governance,
      checked: s.checked,
      checkedAt: s.at,
      mismatches: s.mismatches,
      ...(s.mismatches.length ? { action: 'npm run cli -- governance:handover (see README)' } : {}),
    };
  }

  private async run(): Promise<boolean> {
    if (this.state) return false;
    const governance = (await this.governance.identity()).address;
    const tokens = await this.tokens.activeTokens();
    const mismatches = (await mapLimit(tokens, READS, (t) => this.judge(t, governance))).filter((m): m is AdminMismatch => !!m);
    for (const m of mismatches) this.logger.warn(`token ${m.tokenId} (${m.address}): ${m.problem}`);
    this.state = { at: new Date().toISOString(), governance, checked: tokens.length, mismatches };
    this.lastError = undefined;
    return false;
  }

  /** Reads the mismatched tokens again; those now governed by governance leave the list. */
  private async recheckMismatches(): Promise<void> {
    const s = this.state!;
    const again = await mapLimit(s.mismatches, READS, async (m) =>
      this.judge({ id: m.tokenId, symbol: m.symbol, address: m.address, contractVersion: 0 }, s.governance),
    );
    this.state = { ...s, at: new Date().toISOString(), mismatches: again.filter((m): m is AdminMismatch => !!m) };
  }

  private async judge(t: TokenRef, governance: Address): Promise<AdminMismatch | undefined> {
    const base = { tokenId: t.id, symbol: t.symbol, address: t.address };
    try {
      if (await holdsAdmin(this.chain.client, t.address, governance)) return undefined;
      return { ...base, problem: `the configured governance ${governance} does not hold the admin role` };
    } catch (e) {
      return { ...base, problem: `the admin role could not be read: ${firstLine(e)}` };
    }
  }
}

export type HandoverOutcome =
  | { status: 'already-handed-over' }
  | { status: 'handed-over'; grantTx?: Hash; renounceTx: Hash }
  | { status: 'would-hand-over'; grant: boolean; calls: Array<{ to: Address; data: Hex }> }
  | { status: 'refused'; reason: string };

/**
 * One token's handover, idempotent by what the chain says: governance already admin and the old
 * address not → nothing; governance admin and the old one too (a run stopped between its two
 * steps) → only the renounce; the old one admin → grant, check, renounce; neither → refused.
 * Without `act`, only the plan (and the calls an old admin signing elsewhere, a multisig, would send).
 */
export async function adminHandover(
  client: PublicClient,
  t: TokenRef,
  from: Address,
  to: Address,
  act?: { send: (call: { to: Address; data: Hex }) => Promise<Hash> },
): Promise<HandoverOutcome> {
  const [toHolds, fromHolds] = await Promise.all([holdsAdmin(client, t.address, to), holdsAdmin(client, t.address, from)]);
  if (toHolds && !fromHolds) return { status: 'already-handed-over' };
  if (!toHolds && !fromHolds) return { status: 'refused', reason: `neither ${from} nor governance ${to} holds the admin role` };
  const grant = {
    to: t.address,
    data: encodeFunctionData({ abi: securityTokenV1Abi, functionName: 'grantRole', args: [ADMIN_ROLE, to] }),
  };
  // OpenZeppelin 5: renounceRole(role, callerConfirmation), the caller naming itself.
  const renounce = {
    to: t.address,
    data: encodeFunctionData({ abi: securityTokenV1Abi, functionName: 'renounceRole', args: [ADMIN_ROLE, from] }),
  };
  if (!act) return { status: 'would-hand-over', grant: !toHolds, calls: toHolds ? [renounce] : [grant, renounce] };
  let grantTx: Hash | undefined;
  if (!toHolds) {
    grantTx = await act.send(grant);
    // Never renounce unless the chain shows governance holding the role.
    if (!(await holdsAdmin(client, t.address, to)))
      return { status: 'refused', reason: `the grant ${grantTx} was mined but governance ${to} does not hold the admin role` };
  }
  const renounceTx = await act.send(renounce);
  if (await holdsAdmin(client, t.address, from))
    return { status: 'refused', reason: `the renounce ${renounceTx} was mined but ${from} still holds the admin role` };
  return { status: 'handed-over', grantTx, renounceTx };
}
