/**
 * Every entity and migration is listed here explicitly (no globs), so the same list
 * works from TypeScript sources under Vitest and from the SWC build under Node.
 */
import type { MixedList } from 'typeorm';
import { AuditEvent } from '../audit/audit-event.entity';
import { Batch, BatchItem } from '../batches/entities/batch.entity';
import { Distribution } from '../distributions/entities/distribution.entity';
import { Order } from '../orders/entities/order.entity';
import { AuditAnchor } from '../audit/entities/audit-anchor.entity';
import { AuditAnchorKey } from '../audit/entities/audit-anchor-key.entity';
import { AuditChainLink } from '../audit/entities/audit-chain-link.entity';
import { LoginFailure } from '../auth/entities/login-failure.entity';
import { Principal } from '../auth/entities/principal.entity';
import { RateLimitBucket } from '../auth/entities/rate-limit-bucket.entity';
import { MailOutbox } from '../notifications/entities/mail-outbox.entity';
import { Notification } from '../notifications/entities/notification.entity';
import { NotificationRead } from '../notifications/entities/notification-read.entity';
import { Operator } from '../operators/entities/operator.entity';
import { User } from '../users/entities/user.entity';
import { Issuer } from '../issuers/entities/issuer.entity';
import { IssuerGrant } from '../issuers/entities/issuer-grant.entity';
import { Token } from '../tokens/entities/token.entity';
import { GovernanceKey } from '../governance/entities/governance-key.entity';
import { CustodyEntry } from '../tokens/entities/custody-entry.entity';
import { Transaction } from '../transactions/entities/transaction.entity';
import { SignerHold } from '../transactions/entities/signer-hold.entity';
import { SignerNonce } from '../chain/signer-nonce.entity';
import { IdempotencyKey } from '../common/idempotency/idempotency-key.entity';
import { WalletMedium } from '../media/entities/wallet-medium.entity';
import { WalletMediumEvent } from '../media/entities/wallet-medium-event.entity';
import { Init1795549504363 } from './migrations/1795549504363-Init';
import { Auth1795551779741 } from './migrations/1795551779741-Auth';
import { AuthLoginIdUnique1795551779742 } from './migrations/1795551779742-AuthLoginIdUnique';
import { Users1795552397498 } from './migrations/1795552397498-Users';
import { Tokens1795553062776 } from './migrations/1795553062776-Tokens';
import { Custody1795553491656 } from './migrations/1795553491656-Custody';
import { TxReplacements1795555257941 } from './migrations/1795555257941-TxReplacements';
import { PipelineIndexes1796111641796 } from './migrations/1796111641796-PipelineIndexes';
import { WalletMedia1796155513596 } from './migrations/1796155513596-WalletMedia';
import { SecureRoomRole1796155600000 } from './migrations/1796155600000-SecureRoomRole';
import { CalldataAtSigningAndForeignKeys1796156789131 } from './migrations/1796156789131-CalldataAtSigningAndForeignKeys';
import { TokenContractVersion1796160577489 } from './migrations/1796160577489-TokenContractVersion';
import { AuditChain1796170000000 } from './migrations/1796170000000-AuditChain';
import { NotificationReads1796170000001 } from './migrations/1796170000001-NotificationReads';
import { MailOutboxJobs1796170000100 } from './migrations/1796170000100-MailOutboxJobs';
import { MailSecrets1796180000500 } from './migrations/1796180000500-MailSecrets';
import { BulkOperations1796170000200 } from './migrations/1796170000200-BulkOperations';
import { PlatformActionsAdminsRotations1796180000000 } from './migrations/1796180000000-PlatformActionsAdminsRotations';
import { Jobs1796155360981 } from './migrations/1796155360981-Jobs';
import { FirmStaff1796155400000 } from './migrations/1796155400000-FirmStaff';
import { ApprovalsAndLegalBasis1796180001600 } from './migrations/1796180001600-ApprovalsAndLegalBasis';
import { Webhooks1796181000000 } from './migrations/1796181000000-Webhooks';
import { SecureRoomWebhookEvents1796182000000 } from './migrations/1796182000000-SecureRoomWebhookEvents';
import { GovernanceProposals1796183000000 } from './migrations/1796183000000-GovernanceProposals';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const ENTITIES: MixedList<Function> = [
  AuditEvent,
  Principal,
  LoginFailure,
  RateLimitBucket,
  Operator,
  User,
  Notification,
  MailOutbox,
  Issuer,
  IssuerGrant,
  Token,
  GovernanceKey,
  Transaction,
  SignerNonce,
  SignerHold,
  IdempotencyKey,
  CustodyEntry,
  AuditChainLink,
  AuditAnchor,
  AuditAnchorKey,
  NotificationRead,
  WalletMedium,
  WalletMediumEvent,
  Batch,
  BatchItem,
  Distribution,
  Order,
];

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const MIGRATIONS: MixedList<Function> = [
  Init1795549504363,
  Auth1795551779741,
  AuthLoginIdUnique1795551779742,
  Users1795552397498,
  Tokens1795553062776,
  Custody1795553491656,
  TxReplacements1795555257941,
  PipelineIndexes1796111641796,
  Jobs1796155360981,
  WalletMedia1796155513596,
  SecureRoomRole1796155600000,
  CalldataAtSigningAndForeignKeys1796156789131,
  TokenContractVersion1796160577489,
  AuditChain1796170000000,
  NotificationReads1796170000001,
  MailOutboxJobs1796170000100,
  FirmStaff1796155400000,
  MailSecrets1796180000500,
  ApprovalsAndLegalBasis1796180001600,
  Webhooks1796181000000,
  SecureRoomWebhookEvents1796182000000,
  GovernanceProposals1796183000000,
  BulkOperations1796170000200,
  PlatformActionsAdminsRotations1796180000000,
];
