/**
 * Issues an investor's cold wallet. The key is generated into a Buffer, delivered to
 * each requested medium in order (a display, a PDF file, a printed sheet; each medium
 * has its own id, printed on its sheet), zeroed, and only then are the ADDRESS and the
 * medium rows committed, with a conditional update so that of two concurrent issuances
 * exactly one wins. If a delivery or the commit fails, each medium is undone (a file
 * removed) and only media that may still exist (a sheet that may have printed, a key
 * that was shown) are recorded, as `void`, to be destroyed. The key never reaches the
 * database, a log, an audit event, an error, a temp file or an idempotency record.
 * Shared by the HTTP route (dev/test only) and the secure-room CLI (production path).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, type Address } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { AuditSink } from '../audit/audit-sink';
import { AppError, NotFoundError, ValidationError } from '../common/app-error';
import type { MediumKind } from '../media/entities/wallet-medium.entity';
import { MediaService } from '../media/media.service';
import { Jobs } from '../jobs/jobs.service';
import { NotificationsService } from '../notifications/notifications.service';
import { FirmsRepository } from '../operators/firms.repository';
import { UsersRepository } from './users.repository';
import { renderPaperWallet } from './paper-wallet';
import { publishWalletIssued } from '../webhooks/webhook-events';

export interface IssueRequest {
  userId: string;
  actor: { type: 'admin' | 'cli'; id: string };
  reissue: boolean;
  reason?: string;
  requestId?: string;
  /**
   * The media to deliver, in this order, before anything is committed. Without it (the
   * HTTP route) one `file` medium is made and its PDF returned in the result.
   */
  outputs?: IssueOutput[];
}

interface Delivery {
  mediumId: string;
  address: Address;
  userId: string;
  userName: string;
  /** The sheet (paper, file); zeroed by the service once deliver returns. */
  pdf?: Buffer;
  /** display only: the 32 key bytes, zeroed by the service after the last output. */
  key?: Buffer;
}

/** One medium the caller delivers (the CLI: the screen, a file on removable media, a printer). */
export interface IssueOutput {
  kind: MediumKind;
  /** Encrypts this medium's PDF (AES-256) under the password. */
  pdfPassword?: string;
  /** Shows, writes or prints the medium. Throws to abort the issuance. */
  deliver(d: Delivery): Promise<void>;
  /**
   * Called, newest first, when the issuance fails after deliver was called: removes what
   * it can and answers whether the medium may still exist (recorded `void`, to destroy).
   */
  undo(): Promise<boolean>;
}

export interface IssueResult {
  /** The HTTP route's PDF (empty when the caller delivered `outputs` itself). */
  pdf: Buffer;
  address: Address;
  userId: string;
  userName: string;
  media: Array<{ mediumId: string; kind: MediumKind }>;
}

@Injectable()
export class WalletIssuanceService {
  constructor(
    private readonly users: UsersRepository,
    private readonly firms: FirmsRepository,
    private readonly audit: AuditSink,
    private readonly notifications: NotificationsService,
    private readonly jobs: Jobs,
    private readonly media: MediaService,
  ) {}

  private readonly logger = new Logger('WalletIssuance');

  async issue(req: IssueRequest): Promise<IssueResult> {
    const user = await this.users.find(req.userId, null);
    if (!user) throw new NotFoundError('User');
    if (user.walletAddress && !req.reissue)
      throw new AppError('WALLET_ALREADY_ISSUED', 'This user already has a wallet; reissue with ?reissue=true and a reason');
    if (req.reissue && user.walletAddress && !req.reason)
      throw new ValidationError([{ field: 'reason', message: 'reason is required to reissue a wallet' }]);
    const op = await this.firms.describe(user.operatorId);
    const oldAddress = user.walletAddress;

    let httpPdf = Buffer.alloc(0);
    const outputs: IssueOutput[] = req.outputs ?? [
      {
        kind: 'file',
        deliver: async (d) => {
          httpPdf = Buffer.from(d.pdf!);
        },
        undo: async () => {
          httpPdf.fill(0);
          return false;
        },
      },
    ];
    if (!outputs.length) throw new ValidationError([{ field: 'outputs', message: 'at least one medium is required' }]);
    const issuanceId = randomUUID();
    const started: Array<{ output: IssueOutput; mediumId: string }> = [];
    const base = { userId: user.id, operatorId: user.operatorId, issuanceId, actorId: req.actor.id };
    const abandon = async (addr: Address, reason: string) => {
      const mayExist: Array<{ id: string; kind: MediumKind }> = [];
      for (const s of [...started].reverse()) {
        const exists = await s.output.undo().catch(() => true);
        if (exists) mayExist.push({ id: s.mediumId, kind: s.output.kind });
      }
      await this.media
        .recordVoid({ ...base, address: addr, media: mayExist.reverse(), actor: req.actor, reason })
        .catch((e: unknown) =>
          this.logger.error(
            `could not record ${mayExist.length} void medium/media of user ${user.id} (${mayExist.map((m) => m.id).join(', ')}): ${e instanceof Error ? e.name : 'error'}; destroy them by hand`,
          ),
        );
    };

    let key = randomBytes(32);
    let address: Address;
    try {
      while (!secp256k1.utils.isValidPrivateKey(key)) {
        key.fill(0);
        key = randomBytes(32);
      }
      address = publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(key, false)));
      try {
        for (const output of outputs) {
          const mediumId = randomUUID();
          const pdf =
            output.kind === 'display'
              ? undefined
              : await renderPaperWallet({
                  userId: user.id,
                  userName: user.name,
                  operatorName: op?.name ?? user.operatorId,
                  address,
                  privateKey: key,
                  mediumId,
                  mediumKind: output.kind,
                  issuedAt: new Date(),
                  reissue: !!oldAddress,
                  password: output.pdfPassword,
                });
          started.push({ output, mediumId });
          try {
            await output.deliver({
              mediumId,
              address,
              userId: user.id,
              userName: user.name,
              pdf,
              key: output.kind === 'display' ? key : undefined,
            });
          } finally {
            pdf?.fill(0);
          }
        }
      } catch (e) {
        await abandon(address, `delivery failed: ${e instanceof Error ? e.name : 'error'}`);
        throw e;
      }
    } finally {
      key.fill(0);
    }
    const media = started.map((s) => ({ id: s.mediumId, kind: s.output.kind }));

    try {
      await this.users.transaction(async (em) => {
        if (!(await this.users.setWallet(em, user.id, address, oldAddress)))
          throw new AppError('WALLET_ALREADY_ISSUED', 'Another issuance for this user won; this key was discarded');
        await this.media.recordIssued(em, { ...base, address, media });
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
              issuanceId,
              media: media.map((m) => ({ id: m.id, kind: m.kind })),
            },
            requestId: req.requestId,
          },
          em,
        );
        // The firm is told of a first wallet too, not only of a reissue.
        await this.notifications.walletIssued(em, { user, address, oldAddress: oldAddress ?? null, reason: req.reason });
        await publishWalletIssued(em, { userId: user.id, operatorId: user.operatorId, address, previousAddress: oldAddress ?? null });
        // The old wallet's freeze is a job of this same transaction: it cannot be lost to a crash.
        if (oldAddress)
          await this.jobs.enqueue(em, {
            type: 'wallet.freeze',
            key: `wallet:${user.id}`,
            payload: { userId: user.id, operatorId: user.operatorId, oldAddress },
            // Retried until every freeze is confirmed (also when enqueued by the secure room, which runs no handler).
            maxAttempts: 100_000,
          });
      });
    } catch (e) {
      await abandon(address, `commit failed: ${e instanceof AppError ? e.code : e instanceof Error ? e.name : 'error'}`);
      throw e;
    }
    return {
      pdf: httpPdf,
      address,
      userId: user.id,
      userName: user.name,
      media: media.map((m) => ({ mediumId: m.id, kind: m.kind })),
    };
  }
}
