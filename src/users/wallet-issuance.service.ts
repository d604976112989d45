/**
 * Issues an investor's cold wallet. The key is generated into a Buffer, rendered once
 * into the paper wallet, zeroed, and only the ADDRESS is committed, with a conditional
 * update so that of two concurrent issuances exactly one wins. The key never reaches
 * the database, a log, an audit event, an error, a temp file or an idempotency record.
 * Shared by the HTTP route (dev/test only) and the secure-room CLI (production path).
 */
import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, type Address } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { DataSource } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AppError, NotFoundError, ValidationError } from '../common/app-error';
import { NotificationsService } from '../notifications/notifications.service';
import { User } from './entities/user.entity';
import { renderPaperWallet } from './paper-wallet';

/** Port for token operations: freeze the old wallet on every token where it holds a balance. */
export abstract class WalletReissueListener {
  abstract onWalletReissued(e: {
    userId: string;
    operatorId: string;
    oldAddress: Address;
    newAddress: Address;
    requestId?: string;
  }): Promise<void>;
}

export interface IssueRequest {
  userId: string;
  actor: { type: 'admin' | 'cli'; id: string };
  reissue: boolean;
  reason?: string;
  requestId?: string;
  /** Called with the PDF before the address is committed (the CLI writes the file here). */
  beforeCommit?: (pdf: Buffer, address: Address) => Promise<void>;
  /** Called when the commit fails after beforeCommit ran (the CLI removes the file). */
  onCommitFailure?: () => Promise<void>;
}

export interface IssueResult {
  pdf: Buffer;
  address: Address;
  /** For --display only: the key in hex, which the caller must drop right after showing it. */
  privateKeyHex: string;
  userId: string;
  userName: string;
}

@Injectable()
export class WalletIssuanceService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditSink,
    private readonly notifications: NotificationsService,
  ) {}

  private listener: WalletReissueListener | undefined;
  private readonly logger = new Logger('WalletIssuance');

  /** The token-operations module registers here (it depends on users, not the other way round). */
  setListener(listener: WalletReissueListener): void {
    this.listener = listener;
  }

  async issue(req: IssueRequest): Promise<IssueResult> {
    const user = await this.ds.getRepository(User).findOne({ where: { id: req.userId } });
    if (!user) throw new NotFoundError('User');
    if (user.walletAddress && !req.reissue)
      throw new AppError('WALLET_ALREADY_ISSUED', 'This user already has a wallet; reissue with ?reissue=true and a reason');
    if (req.reissue && user.walletAddress && !req.reason)
      throw new ValidationError([{ field: 'reason', message: 'reason is required to reissue a wallet' }]);
    const [op] = await this.ds.query<Array<{ name: string }>>('SELECT name FROM principals WHERE id = $1', [user.operatorId]);
    const oldAddress = user.walletAddress;

    let key = randomBytes(32);
    let pdf: Buffer;
    let address: Address;
    let privateKeyHex: string;
    try {
      while (!secp256k1.utils.isValidPrivateKey(key)) {
        key.fill(0);
        key = randomBytes(32);
      }
      address = publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(key, false)));
      privateKeyHex = bytesToHex(key);
      pdf = await renderPaperWallet({
        userId: user.id,
        userName: user.name,
        operatorName: op?.name ?? user.operatorId,
        address,
        privateKeyHex,
        issuedAt: new Date(),
        reissue: !!oldAddress,
      });
    } finally {
      key.fill(0);
    }

    if (req.beforeCommit) await req.beforeCommit(pdf, address);
    try {
      await this.ds.transaction(async (em) => {
        const r = await em
          .createQueryBuilder()
          .update(User)
          .set({
            walletAddress: address,
            walletIssuedAt: () => 'now()',
            previousWalletAddresses: () =>
              oldAddress ? 'array_append(previous_wallet_addresses, wallet_address)' : 'previous_wallet_addresses',
          })
          .where('id = :id', { id: user.id })
          .andWhere(oldAddress ? 'wallet_address = :old' : 'wallet_address IS NULL', { old: oldAddress })
          .execute();
        if (!r.affected) throw new AppError('WALLET_ALREADY_ISSUED', 'Another issuance for this user won; this key was discarded');
        await this.audit.record(
          {
            actor: req.actor,
            operatorId: user.operatorId,
            action: oldAddress ? 'wallet.reissue' : 'wallet.issue',
            subject: { type: 'user', id: user.id },
            outcome: 'success',
            details: {
              address,
              ...(oldAddress ? { previousAddress: oldAddress, reason: req.reason ?? null } : {}),
              channel: req.actor.type === 'cli' ? 'secure-room-cli' : 'http',
            },
            requestId: req.requestId,
          },
          em,
        );
        if (oldAddress) {
          await this.notifications.notify(em, {
            kind: 'wallet.reissued',
            operatorId: user.operatorId,
            subject: `[kagi] ウォレット再発行 / Wallet reissued: ${user.name}`,
            body: [
              `The wallet of user ${user.id} (${user.name}) was reissued.`,
              `Old address: ${oldAddress}`,
              `New address: ${address}`,
              `Reason: ${req.reason ?? '-'}`,
            ].join('\n'),
            mailOps: true,
          });
        }
      });
    } catch (e) {
      pdf.fill(0);
      if (req.onCommitFailure) await req.onCommitFailure();
      throw e;
    }
    if (oldAddress && this.listener) {
      // The new wallet is committed: its key must reach the caller whatever happens next.
      // A failure to queue the freezes is logged and audited for ops, never thrown.
      try {
        await this.listener.onWalletReissued({
          userId: user.id,
          operatorId: user.operatorId,
          oldAddress,
          newAddress: address,
          requestId: req.requestId,
        });
      } catch (e) {
        this.logger.error(
          `could not queue the freeze of ${oldAddress} for user ${user.id}: ${e instanceof Error ? e.name : 'error'}; freeze it by hand`,
        );
        await this.audit
          .record({
            actor: { type: 'system' },
            operatorId: user.operatorId,
            action: 'wallet.reissue.freeze',
            subject: { type: 'user', id: user.id },
            outcome: 'failure',
            details: { address: oldAddress },
          })
          .catch(() => undefined);
      }
    }
    return { pdf, address, privateKeyHex, userId: user.id, userName: user.name };
  }
}
