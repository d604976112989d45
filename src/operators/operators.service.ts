/**
 * Firms ("second account issuing"). Creating one generates its secp256k1 signing key and
 * stores it only envelope-encrypted, in the same database transaction as the firm, its
 * first staff member (all four roles) and the audit event: a KMS failure leaves nothing.
 * Never returns or logs key material; the sealed columns leave this module only towards
 * the signer. On the admin path the platform never learns the password the firm then
 * uses: outside production the given password must be changed at first login; in
 * production there is none, and the first member activates with a one-time code.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { getAddress } from 'viem';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AuthService, newActivationCode } from '../auth/auth.service';
import { checkPasswordRules, Passwords } from '../auth/passwords';
import { actorOf, FIRM_ROLES, firmOf, type Principal } from '../common/principal';
import { GasFunding } from '../chain/gas-funding';
import { AppError, NotFoundError, ValidationError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { sealedKeyOf, type SealedKey } from '../kms/sealed-key';
import { SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import { NotificationsService } from '../notifications/notifications.service';
import { PersonalMail } from '../notifications/personal-mail';
import type { CreateOperatorDto, OperatorDto } from './dto/operator.dto';
import type { Operator } from './entities/operator.entity';
import { OperatorsRepository } from './operators.repository';
import { StaffRepository } from './staff.repository';

class OperatorSuspendedError extends AppError {
  constructor() {
    super('ACCOUNT_SUSPENDED', 'The operator is suspended');
  }
}

function toDto(o: Operator): OperatorDto {
  return {
    id: o.id,
    loginId: o.principal.loginId,
    name: o.principal.name,
    email: o.email,
    status: o.status,
    signerAddress: o.signerAddress,
    custodyAddress: o.custodyAddress,
    createdAt: o.createdAt.toISOString(),
  };
}

export interface NewFirm {
  name: string;
  email: string;
  loginId?: string;
  /** Exactly one: an argon2id hash (applications), a password to change at first login (admin path, dev/test), or neither (activation code). */
  passwordHash?: string;
  password?: string;
}

@Injectable()
export class OperatorsService implements OnModuleInit {
  constructor(
    private readonly repo: OperatorsRepository,
    private readonly staff: StaffRepository,
    private readonly auth: AuthService,
    private readonly passwords: Passwords,
    private readonly keys: SigningKeys,
    private readonly audit: AuditSink,
    private readonly gas: GasFunding,
    private readonly stores: SealedKeyStores,
    private readonly notifications: NotificationsService,
    private readonly mail: PersonalMail,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.stores.register(this.repo.sealedKeyStore());
  }

  async create(dto: CreateOperatorDto, admin: Principal, requestId?: string): Promise<OperatorDto & { activationCode?: string }> {
    if (this.config.isProduction && dto.password !== undefined)
      throw new ValidationError([
        { field: 'password', message: 'password is not accepted in production: the firm activates its first login with an e-mailed code' },
      ]);
    if (!this.config.isProduction && dto.password === undefined)
      throw new ValidationError([{ field: 'password', message: 'password must be a string' }]);
    const { operator, activationCode } = await this.createFirm(
      { name: dto.name, email: dto.email, loginId: dto.loginId, password: dto.password },
      admin,
      requestId,
    );
    // Outside production the code is also in the answer (as for staff); in production only e-mailed.
    return activationCode && !this.config.isProduction ? { ...operator, activationCode } : operator;
  }

  /** A firm with its signing key and first staff member (all four roles). Used by the admin path and by approved applications. */
  async createFirm(
    f: NewFirm,
    actor: Principal,
    requestId?: string,
    inTransaction?: (em: Parameters<Parameters<OperatorsRepository['transaction']>[0]>[0], id: string) => Promise<void>,
  ): Promise<{ operator: OperatorDto; activationCode?: string }> {
    const loginId = f.loginId ?? `op-${randomBytes(6).toString('hex')}`;
    if (f.password !== undefined) checkPasswordRules(f.password, loginId);
    const id = randomUUID();
    const activation = f.password === undefined && f.passwordHash === undefined ? newActivationCode() : undefined;
    const passwordHash =
      f.passwordHash ?? (f.password !== undefined ? await this.passwords.hash(f.password) : await this.auth.unusablePasswordHash());
    // KMS first (503 KMS_UNAVAILABLE leaves nothing), then one transaction for every row.
    const { address, sealed } = await this.keys.create({ kind: 'operator', id });
    await this.repo.transaction(async (em) => {
      await this.auth.insertPrincipal(em, {
        id,
        type: 'operator',
        loginId,
        name: f.name,
        passwordHash,
        mustChangePassword: f.password !== undefined,
        activation: activation ? { codeHash: activation.hash, expiresAt: activation.expiresAt } : undefined,
      });
      await this.repo.insert(em, { id, email: f.email, address, sealed });
      await this.staff.insert(em, { id, operatorId: id, email: f.email, roles: [...FIRM_ROLES] });
      await this.audit.record(
        {
          actor: actorOf(actor),
          operatorId: id,
          action: 'operator.create',
          subject: { type: 'operator', id },
          outcome: 'success',
          details: { loginId, signerAddress: address, kmsKeyId: sealed.kmsKeyId, firstStaffId: id },
          requestId,
        },
        em,
      );
      if (activation) {
        await this.notifications.notify(em, {
          kind: 'staff.activation',
          operatorId: id,
          subject: 'Activate your kagi login',
          body: `An activation code for login id ${loginId} was sent to the firm's e-mail address; it is valid for 24 hours.`,
          mailOps: false,
        });
        await this.mail.send(em, {
          to: f.email,
          subject: '[kagi] ログインの有効化 / Activate your kagi login',
          body: [
            `Login id: ${loginId}`,
            'Activation code (one-time, valid for 24 hours): {{secret}}',
            'Activate at POST /v1/auth/activate with your login id, this code and a new password.',
          ].join('\n'),
          secret: activation.code,
        });
      } else if (f.passwordHash !== undefined) {
        // An approved application (¶0035): the applicant learns the login id kagi issued.
        await this.mail.send(em, {
          to: f.email,
          subject: '[kagi] 申請承認 / Your application was approved',
          body: [`Login id: ${loginId}`, 'Log in with the password you gave in your application.'].join('\n'),
        });
      }
      await inTransaction?.(em, id);
    });
    await this.gas.fund(address);
    return { operator: toDto(await this.repo.load(id)), activationCode: activation?.code };
  }

  list(query: PageQuery): Promise<Page<OperatorDto>> {
    return this.repo.page(query, toDto);
  }

  /** Admins read any firm; its staff (and API keys) only their own (others: 404). */
  async get(id: string, p: Principal): Promise<OperatorDto> {
    if (p.type === 'operator' && firmOf(p) !== id) throw new NotFoundError('Operator');
    return toDto(await this.repo.load(id));
  }

  async rewrap(id: string, admin: Principal, requestId?: string): Promise<OperatorDto> {
    const o = await this.repo.load(id);
    const sealed = await this.keys.rewrap({ kind: 'operator', id }, sealedKeyOf(o), {
      actor: actorOf(admin),
      operatorId: id,
      purpose: 'operator key-rewrap',
      requestId,
    });
    await this.repo.saveRewrapped(id, sealed);
    return this.get(id, admin);
  }

  async setStatus(id: string, status: 'active' | 'suspended', admin: Principal, requestId?: string): Promise<OperatorDto> {
    await this.repo.load(id);
    await this.repo.transaction((em) => this.setStatusIn(em, id, status, admin, requestId));
    return this.get(id, admin);
  }

  /** The status change in the caller's transaction (the emergency pause suspends the firm with its governance rows). */
  async setStatusIn(
    em: EntityManager,
    id: string,
    status: 'active' | 'suspended',
    admin: Principal,
    requestId?: string,
    details?: Record<string, unknown>,
  ): Promise<void> {
    await this.repo.setStatus(em, id, status);
    // Suspension revokes every token of every member at once; resuming does not bring old tokens back.
    if (status === 'suspended') for (const s of await this.staff.idsOf(em, id)) await this.auth.revokeAll(em, s);
    await this.audit.record(
      {
        actor: actorOf(admin),
        operatorId: id,
        action: status === 'suspended' ? 'operator.suspend' : 'operator.resume',
        subject: { type: 'operator', id },
        outcome: 'success',
        details,
        requestId,
      },
      em,
    );
  }

  /** Key rotation's last step: the new sealed key replaces the old one, in the caller's transaction. */
  replaceKey(em: EntityManager, id: string, k: SealedKey): Promise<void> {
    return this.repo.replaceKey(em, id, k);
  }

  /** The firm's current signing address (the agent on its tokens). */
  async signerAddressOf(operatorId: string): Promise<`0x${string}`> {
    return getAddress((await this.repo.load(operatorId)).signerAddress);
  }

  /** For the signing pipeline: re-checked right before any key of the operator is opened. */
  async assertActive(operatorId: string): Promise<void> {
    const status = await this.repo.status(operatorId);
    if (!status) throw new NotFoundError('Operator');
    if (status !== 'active') throw new OperatorSuspendedError();
  }

  /** Where the firm's deposited investor tokens are held. */
  async custodyAddressOf(operatorId: string): Promise<`0x${string}`> {
    return getAddress((await this.repo.load(operatorId)).custodyAddress);
  }

  /** Firms whose custody is still at the signing address (created before the keyless custody rule). */
  withLegacyCustody(): Promise<Array<{ id: string; custodyAddress: `0x${string}` }>> {
    return this.repo.withLegacyCustody();
  }

  /** Switches the firm to its keyless custody address, in the caller's transaction; false when already done. */
  adoptKeylessCustody(em: EntityManager, operatorId: string): Promise<boolean> {
    return this.repo.adoptKeylessCustody(em, operatorId);
  }

  /** For the signing pipeline only. */
  async getSealedKey(operatorId: string): Promise<SealedKey> {
    return sealedKeyOf(await this.repo.load(operatorId));
  }
}
