/**
 * Operator accounts ("second account issuing"). Creating one generates its secp256k1
 * signing key and stores it only envelope-encrypted, in the same database transaction
 * as the operator row: a KMS failure leaves no operator behind. Never returns or logs
 * key material; the sealed columns leave this module only towards the signer.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { getAddress } from 'viem';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AuthService } from '../auth/auth.service';
import { checkPasswordRules, Passwords } from '../auth/passwords';
import { actorOf, type Principal } from '../auth/principal';
import { custodyAddressOf } from '../chain/custody-address';
import { GasFunding } from '../chain/gas-funding';
import { AppError, NotFoundError } from '../common/app-error';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { sealedKeyOf, type SealedKey } from '../kms/sealed-key';
import { repositoryStore, saveRewrapped, SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import type { CreateOperatorDto, OperatorDto } from './dto/operator.dto';
import { Operator } from './entities/operator.entity';

export class OperatorSuspendedError extends AppError {
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

@Injectable()
export class OperatorsService implements OnModuleInit {
  constructor(
    private readonly ds: DataSource,
    private readonly auth: AuthService,
    private readonly passwords: Passwords,
    private readonly keys: SigningKeys,
    private readonly audit: AuditSink,
    private readonly gas: GasFunding,
    private readonly stores: SealedKeyStores,
  ) {}

  onModuleInit(): void {
    this.stores.register(repositoryStore('operator', this.ds.getRepository(Operator), (o) => o.id));
  }

  async create(dto: CreateOperatorDto, admin: Principal, requestId?: string): Promise<OperatorDto> {
    const loginId = dto.loginId ?? `op-${randomBytes(6).toString('hex')}`;
    checkPasswordRules(dto.password, loginId);
    const id = randomUUID();
    const passwordHash = await this.passwords.hash(dto.password);
    // KMS first (503 KMS_UNAVAILABLE leaves nothing), then one transaction for every row.
    const { address, sealed } = await this.keys.create({ kind: 'operator', id });
    await this.ds.transaction(async (em) => {
      await this.auth.insertPrincipal(em, { id, type: 'operator', loginId, name: dto.name, passwordHash });
      await em.getRepository(Operator).insert({
        id,
        email: dto.email,
        status: 'active',
        signerAddress: address,
        // Keyless (api-contract "Operators"): only agent actions move custody; a key rotation never does.
        custodyAddress: custodyAddressOf(id),
        encryptedKey: sealed.encryptedKey,
        encryptedDataKey: sealed.encryptedDataKey,
        kmsKeyId: sealed.kmsKeyId,
      });
      await this.audit.record(
        {
          actor: actorOf(admin),
          operatorId: id,
          action: 'operator.create',
          subject: { type: 'operator', id },
          outcome: 'success',
          details: { loginId, signerAddress: address, kmsKeyId: sealed.kmsKeyId },
          requestId,
        },
        em,
      );
    });
    await this.gas.fund(address);
    return this.get(id, admin);
  }

  async list(query: PageQuery): Promise<Page<OperatorDto>> {
    const qb = this.ds.getRepository(Operator).createQueryBuilder('o').innerJoinAndSelect('o.principal', 'p');
    return paginate(qb, query, toDto);
  }

  /** Admins read any operator; an operator reads only itself (others: 404). */
  async get(id: string, p: Principal): Promise<OperatorDto> {
    if (p.type === 'operator' && p.id !== id) throw new NotFoundError('Operator');
    return toDto(await this.load(id));
  }

  async rewrap(id: string, admin: Principal, requestId?: string): Promise<OperatorDto> {
    const o = await this.load(id);
    const sealed = await this.keys.rewrap({ kind: 'operator', id }, sealedKeyOf(o), {
      actor: actorOf(admin),
      operatorId: id,
      purpose: 'operator key-rewrap',
      requestId,
    });
    await saveRewrapped(this.ds.getRepository(Operator), id, sealed);
    return this.get(id, admin);
  }

  async setStatus(id: string, status: 'active' | 'suspended', admin: Principal, requestId?: string): Promise<OperatorDto> {
    await this.load(id);
    await this.ds.transaction(async (em) => {
      await em.getRepository(Operator).update({ id }, { status });
      // Suspension revokes every token at once; resuming does not bring old tokens back.
      if (status === 'suspended') await this.auth.revokeAll(em, id);
      await this.audit.record(
        {
          actor: actorOf(admin),
          operatorId: id,
          action: status === 'suspended' ? 'operator.suspend' : 'operator.resume',
          subject: { type: 'operator', id },
          outcome: 'success',
          requestId,
        },
        em,
      );
    });
    return this.get(id, admin);
  }

  /** For the signing pipeline: re-checked right before any key of the operator is opened. */
  async assertActive(operatorId: string): Promise<void> {
    const o = await this.ds.getRepository(Operator).findOne({ where: { id: operatorId }, select: { id: true, status: true } });
    if (!o) throw new NotFoundError('Operator');
    if (o.status !== 'active') throw new OperatorSuspendedError();
  }

  /** Where the firm's deposited investor tokens are held. */
  async custodyAddressOf(operatorId: string): Promise<`0x${string}`> {
    return getAddress((await this.load(operatorId)).custodyAddress);
  }

  /** Firms whose custody is still at the signing address (created before the keyless custody rule). */
  async withLegacyCustody(): Promise<Array<{ id: string; custodyAddress: `0x${string}` }>> {
    const rows = await this.ds.getRepository(Operator).find({ select: { id: true, custodyAddress: true } });
    return rows
      .filter((o) => getAddress(o.custodyAddress) !== custodyAddressOf(o.id))
      .map((o) => ({ id: o.id, custodyAddress: getAddress(o.custodyAddress) }));
  }

  /** Switches the firm to its keyless custody address, in the caller's transaction, under a lock on the firm; false when already done. */
  async adoptKeylessCustody(em: EntityManager, operatorId: string): Promise<boolean> {
    const [o] = await em.query<Array<{ custody_address: string }>>('SELECT custody_address FROM operators WHERE id = $1 FOR UPDATE', [
      operatorId,
    ]);
    const keyless = custodyAddressOf(operatorId);
    if (!o || getAddress(o.custody_address) === keyless) return false;
    await em.query('UPDATE operators SET custody_address = $2 WHERE id = $1', [operatorId, keyless]);
    return true;
  }

  /** For the signing pipeline only. */
  async getSealedKey(operatorId: string): Promise<SealedKey> {
    return sealedKeyOf(await this.load(operatorId));
  }

  private async load(id: string): Promise<Operator> {
    const o = await this.ds.getRepository(Operator).findOne({ where: { id }, relations: { principal: true } });
    if (!o) throw new NotFoundError('Operator');
    return o;
  }
}
