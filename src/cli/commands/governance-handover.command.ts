import { secp256k1 } from '@noble/curves/secp256k1';
import { Command, CommandRunner, Option } from 'nest-commander';
import {
  bytesToHex,
  createWalletClient,
  getAddress,
  http,
  isAddress,
  numberToHex,
  type Address,
  type Hash,
  type Hex,
  type LocalAccount,
} from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { AuditSink } from '../../audit/audit-sink';
import { ChainService } from '../../chain/chain.service';
import { firstLine } from '../../common/logging';
import { mapLimit } from '../../common/loop';
import { AppConfig } from '../../config/app-config';
import { GovernanceKeysRepository, type GovernanceKeyRow } from '../../governance/governance-keys.repository';
import { digestSignerAccount, GovernanceSigner } from '../../governance/governance-signer';
import { adminHandover, type HandoverOutcome } from '../../governance/token-admins';
import { TokensRepository, type TokenRef } from '../../tokens/tokens.repository';
import { SigningKeys } from '../../kms/signing-keys';
import { ask } from '../prompt';

interface Options {
  from?: string;
  yes?: boolean;
  token?: string[];
  calldata?: boolean;
}

const DEV_KEY = 'dev-key';
/** Tokens whose roles are read at once while planning. */
const PLAN_READS = 20;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The old admin's signing: a sealed development key (opened per token, audited) or a key typed in. */
type OldSigner = (fn: (account: LocalAccount) => Promise<HandoverOutcome>) => Promise<HandoverOutcome>;

/**
 * Moves the admin role (DEFAULT_ADMIN_ROLE) of existing tokens from an old governance address to
 * the configured governance signer (GOVERNANCE_SIGNER), then the old address renounces it.
 * Who holds the role is read from the chain, token by token; the database only lists the tokens.
 * A dry run by default (what each token would get, nothing signed); `--yes` acts. Idempotent:
 * a token already handed over is skipped and reported, a run stopped between a grant and its
 * renounce only renounces when run again.
 *
 * The old admin signs: `--from dev-key` is kagi's sealed development governance key (opened
 * through SigningKeys, audited `key.open`); `--from <address>` (an old GOVERNANCE_ADDRESS) takes
 * that address's private key at a prompt without echo, or one line on stdin, never from argv or
 * the environment; its bytes are zeroed when the run ends (the line read is a JavaScript string,
 * which cannot be wiped: it is left to the garbage collector, as the secure room's passwords are).
 */
@Command({
  name: 'governance:handover',
  description:
    "Move existing tokens' admin role from an old governance address to the configured governance signer, then renounce it (dry run unless --yes)",
})
export class GovernanceHandoverCommand extends CommandRunner {
  constructor(
    private readonly tokens: TokensRepository,
    private readonly governanceKeys: GovernanceKeysRepository,
    private readonly chain: ChainService,
    private readonly signer: GovernanceSigner,
    private readonly keys: SigningKeys,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {
    super();
  }

  @Option({
    flags: '--from <address|dev-key>',
    description: "the old admin: an address (its key is prompted with --yes) or 'dev-key' (kagi's sealed development key)",
    required: true,
  })
  parseFrom(v: string): string {
    if (v === DEV_KEY) return v;
    if (!isAddress(v, { strict: false })) throw new Error(`--from must be an address or ${DEV_KEY}`);
    return getAddress(v);
  }

  @Option({ flags: '--yes', description: 'act: sign and send (without it, only the plan is listed)' })
  parseYes(): boolean {
    return true;
  }

  @Option({ flags: '--token <id>', description: 'only this token (repeatable; default: every active token)' })
  parseToken(v: string, previous: string[] = []): string[] {
    if (!UUID.test(v)) throw new Error('--token must be a token id (uuid)');
    return [...previous, v];
  }

  @Option({
    flags: '--calldata',
    description: 'dry run: also print each call (to, data), for an old admin that signs elsewhere (a multisig)',
  })
  parseCalldata(): boolean {
    return true;
  }

  async run(_args: string[], o: Options): Promise<void> {
    if (!o.from) throw new Error(`governance:handover needs --from <address|${DEV_KEY}>`);
    const to = getAddress(await this.signer.address());
    const devKey = o.from === DEV_KEY ? await this.devKey(to) : undefined;
    const from = devKey ? getAddress(devKey.sealed.address) : getAddress(o.from);
    if (from === to)
      throw new Error(`${from} is already the configured governance (GOVERNANCE_SIGNER=${this.signer.kind}): nothing to hand over`);
    const tokens = await this.tokens.activeTokens(o.token);
    const missing = (o.token ?? []).filter((id) => !tokens.some((t) => t.id === id));
    if (missing.length) throw new Error(`not an active token: ${missing.join(', ')}`);

    const out = process.stdout;
    out.write(
      `governance:handover from ${from} to ${to} (GOVERNANCE_SIGNER=${this.signer.kind}): ${tokens.length} active token(s), ${o.yes ? 'acting' : 'dry run'}\n`,
    );
    // The plan first, from the chain: it says whether a key is needed at all.
    const plans = await mapLimit(tokens, PLAN_READS, (t) =>
      adminHandover(this.chain.client, t, from, to).catch((e: unknown): HandoverOutcome => ({
        status: 'refused',
        reason: `the admin role could not be read: ${firstLine(e)}`,
      })),
    );
    const counts = { handedOver: 0, already: 0, pending: 0, refused: 0 };
    const todo: TokenRef[] = [];
    tokens.forEach((t, i) => {
      const p = plans[i]!;
      if (p.status === 'would-hand-over') todo.push(t);
      if (!o.yes || p.status !== 'would-hand-over') this.report(t, p, o.calldata, counts);
    });

    if (o.yes && todo.length) {
      if ((await this.chain.client.getBalance({ address: from })) === 0n)
        throw new Error(`the old admin ${from} has no gas: fund it, then run again (nothing was sent)`);
      const withOld = devKey ? this.devKeySigner(devKey) : await this.promptedSigner(from);
      try {
        for (const t of todo) {
          let r: HandoverOutcome;
          try {
            r = await withOld.sign((account) => adminHandover(this.chain.client, t, from, to, { send: this.sender(account) }));
          } catch (e) {
            r = { status: 'refused', reason: firstLine(e) };
          }
          if (r.status !== 'already-handed-over')
            await this.audit.record({
              actor: { type: 'cli' },
              action: 'governance.handover',
              subject: { type: 'token', id: t.id },
              outcome: r.status === 'handed-over' ? 'success' : 'failure',
              details: {
                tokenAddress: t.address,
                fromAddress: from,
                toAddress: to,
                ...(r.status === 'handed-over' ? { grantTxHash: r.grantTx ?? null, renounceTxHash: r.renounceTx } : {}),
                ...(r.status === 'refused' ? { reason: r.reason } : {}),
              },
            });
          this.report(t, r, false, counts);
        }
      } finally {
        withOld.wipe();
      }
    }

    out.write(
      o.yes
        ? `done: ${counts.handedOver} handed over, ${counts.already} already handed over (skipped), ${counts.refused} refused\n`
        : `dry run: ${counts.pending} to hand over, ${counts.already} already handed over, ${counts.refused} refused; nothing was sent (run again with --yes to act)\n`,
    );
    if (counts.refused) process.exitCode = 1;
  }

  private report(t: TokenRef, r: HandoverOutcome, calldata: boolean | undefined, counts: Record<string, number>): void {
    const head = `  ${t.id} ${t.symbol} ${t.address} (v${t.contractVersion}): `;
    const out = process.stdout;
    switch (r.status) {
      case 'already-handed-over':
        counts.already!++;
        out.write(`${head}already handed over, skipped\n`);
        return;
      case 'would-hand-over':
        counts.pending!++;
        out.write(`${head}would ${r.grant ? 'grant the admin role to governance, then ' : ''}renounce the old admin's role\n`);
        if (calldata) for (const c of r.calls) out.write(`    to=${c.to} data=${c.data}\n`);
        return;
      case 'handed-over':
        counts.handedOver!++;
        out.write(`${head}handed over (${r.grantTx ? `grant ${r.grantTx}, ` : ''}renounce ${r.renounceTx})\n`);
        return;
      case 'refused':
        counts.refused!++;
        out.write(`${head}REFUSED: ${r.reason}\n`);
    }
  }

  private async devKey(to: Address) {
    if (this.signer.kind === 'local')
      throw new Error(`with GOVERNANCE_SIGNER=local the development key is the configured governance (${to}): nothing to hand over`);
    const row = await this.governanceKeys.oldest();
    if (!row) throw new Error('this database holds no development governance key');
    return row;
  }

  private devKeySigner(row: GovernanceKeyRow) {
    const sign: OldSigner = (fn) =>
      this.keys.withSigner({ kind: 'governance', id: row.id }, row.sealed, { actor: { type: 'cli' }, purpose: 'governance:handover' }, fn);
    return { sign, wipe: () => undefined };
  }

  private async promptedSigner(from: Address) {
    const typed = (await ask(`private key of the old admin ${from} (not echoed): `, { secret: true })).trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{64}$/.test(typed)) throw new Error('that is not a private key (64 hex digits); nothing was sent');
    const key = Buffer.from(typed, 'hex');
    const wipe = () => key.fill(0);
    if (!secp256k1.utils.isValidPrivateKey(key) || publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(key, false))) !== from) {
      wipe();
      throw new Error(`that key is not the key of ${from}; nothing was sent`);
    }
    const account = digestSignerAccount(from, async (hash: Hex) => {
      const sig = secp256k1.sign(hash.slice(2), key, { lowS: true });
      return {
        r: numberToHex(sig.r, { size: 32 }),
        s: numberToHex(sig.s, { size: 32 }),
        v: sig.recovery ? 28n : 27n,
        yParity: sig.recovery,
      };
    });
    const sign: OldSigner = (fn) => fn(account);
    return { sign, wipe };
  }

  /** Sends one call as the old admin and waits for it to be mined (CHAIN_CONFIRMATIONS); a revert throws. */
  private sender(account: LocalAccount) {
    return async (call: { to: Address; data: Hex }): Promise<Hash> => {
      const chain = await this.chain.chain();
      const wallet = createWalletClient({ account, chain, transport: http(this.config.chain.rpcUrl, { timeout: 10_000 }) });
      const hash = await wallet.sendTransaction({ to: call.to, data: call.data, account, chain });
      const receipt = await this.chain.client.waitForTransactionReceipt({
        hash,
        confirmations: this.config.chain.confirmations,
        timeout: 120_000,
      });
      if (receipt.status !== 'success') throw new Error(`${hash} reverted`);
      return hash;
    };
  }
}
