/**
 * Issuers and their sealed signing keys (the per-issuer key variant). Several operators
 * may be granted one issuer; authority comes only from a current grant, re-checked by
 * the signing pipeline just before each signature.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, type Principal } from '../auth/principal';
import { GasFunding } from '../chain/gas-funding';
import { AppError, NotFoundError } from '../common/app-error';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { sealedKeyOf, type SealedKey } from '../kms/sealed-key';
import { repositoryStore, saveRewrapped, SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import { Operator } from '../operators/entities/operator.entity';
import { IssuerGrant } from './entities/issuer-grant.entity';
import { Issuer } from './entities/issuer.entity';

export interface IssuerDto {
  id: string;
  name: string;
  signerAddress: string;
  operatorIds: string[];
  createdAt: string;
}

@Injectable()
export class IssuersService implements OnModuleInit {
  constructor(
    private readonly ds: DataSource,
    private readonly keys: SigningKeys,
    private readonly audit: AuditSink,
    private readonly gas: GasFunding,
    private readonly stores: SealedKeyStores,
  ) {}

  onModuleInit(): void {
    this.stores.register(repositoryStore('issuer', this.ds.getRepository(Issuer)));
  }

  async create(name: string, admin: Principal, requestId?: string): Promise<IssuerDto> {
    const id = randomUUID();
    const { address, sealed } = await this.keys.create({ kind: 'issuer', id });
    await this.ds.transaction(async (em) => {
      await em.getRepository(Issuer).insert({
        id,
        name,
        signerAddress: address,
        encryptedKey: sealed.encryptedKey,
        encryptedDataKey: sealed.encryptedDataKey,
        kmsKeyId: sealed.kmsKeyId,
      });
      await this.audit.record(
        {
          actor: actorOf(admin),
          action: 'issuer.create',
          subject: { type: 'issuer', id },
          outcome: 'success',
          details: { signerAddress: address },
          requestId,
        },
        em,
      );
    });
    await this.gas.fund(address);
    return this.get(id, admin);
  }

  async list(p: Principal, q: PageQuery): Promise<Page<IssuerDto>> {
    const qb = this.ds.getRepository(Issuer).createQueryBuilder('i');
    if (p.type === 'operator') qb.innerJoin(IssuerGrant, 'g', 'g.issuer_id = i.id AND g.operator_id = :me', { me: p.id });
    const page = await paginate(qb, q, (i) => i);
    const grants = await this.grantsOf(page.items.map((i) => i.id));
    return { items: page.items.map((i) => this.toDto(i, grants.get(i.id) ?? [], p)), nextCursor: page.nextCursor };
  }

  async get(id: string, p: Principal): Promise<IssuerDto> {
    const i = await this.ds.getRepository(Issuer).findOneBy({ id });
    if (!i) throw new NotFoundError('Issuer');
    const grants = (await this.grantsOf([id])).get(id) ?? [];
    if (p.type === 'operator' && !grants.includes(p.id)) throw new NotFoundError('Issuer');
    return this.toDto(i, grants, p);
  }

  async grant(id: string, operatorId: string, admin: Principal, requestId?: string): Promise<IssuerDto> {
    await this.get(id, admin);
    if (!(await this.ds.getRepository(Operator).existsBy({ id: operatorId }))) throw new NotFoundError('Operator');
    await this.ds.transaction(async (em) => {
      await em.query('INSERT INTO issuer_grants (issuer_id, operator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, operatorId]);
      await this.audit.record(
        {
          actor: actorOf(admin),
          operatorId,
          action: 'issuer.grant',
          subject: { type: 'issuer', id },
          outcome: 'success',
          details: { operatorId },
          requestId,
        },
        em,
      );
    });
    return this.get(id, admin);
  }

  async revoke(id: string, operatorId: string, admin: Principal, requestId?: string): Promise<IssuerDto> {
    await this.get(id, admin);
    await this.ds.transaction(async (em) => {
      const r = await em.getRepository(IssuerGrant).delete({ issuerId: id, operatorId });
      if (!r.affected) throw new NotFoundError('Grant');
      await this.audit.record(
        {
          actor: actorOf(admin),
          operatorId,
          action: 'issuer.revoke',
          subject: { type: 'issuer', id },
          outcome: 'success',
          details: { operatorId },
          requestId,
        },
        em,
      );
    });
    return this.get(id, admin);
  }

  async rewrap(id: string, admin: Principal, requestId?: string): Promise<IssuerDto> {
    const i = await this.ds.getRepository(Issuer).findOneBy({ id });
    if (!i) throw new NotFoundError('Issuer');
    const sealed = await this.keys.rewrap({ kind: 'issuer', id }, sealedKeyOf(i), {
      actor: actorOf(admin),
      purpose: 'issuer key-rewrap',
      requestId,
    });
    await saveRewrapped(this.ds.getRepository(Issuer), id, sealed);
    return this.get(id, admin);
  }

  /** For token creation and the pipeline: the grant must exist now. */
  async assertGranted(issuerId: string, operatorId: string): Promise<Issuer> {
    const i = await this.ds.getRepository(Issuer).findOneBy({ id: issuerId });
    const granted = i ? await this.ds.getRepository(IssuerGrant).existsBy({ issuerId, operatorId }) : false;
    if (!i || !granted) throw new AppError('ISSUER_NOT_GRANTED', 'This operator is not granted that issuer');
    return i;
  }

  async getSealedKey(issuerId: string): Promise<SealedKey> {
    const i = await this.ds.getRepository(Issuer).findOneByOrFail({ id: issuerId });
    return sealedKeyOf(i);
  }

  private async grantsOf(ids: string[]): Promise<Map<string, string[]>> {
    const m = new Map<string, string[]>();
    if (!ids.length) return m;
    const rows = await this.ds
      .getRepository(IssuerGrant)
      .createQueryBuilder('g')
      .where('g.issuer_id IN (:...ids)', { ids })
      .orderBy('g.created_at', 'ASC')
      .getMany();
    for (const r of rows) m.set(r.issuerId, [...(m.get(r.issuerId) ?? []), r.operatorId]);
    return m;
  }

  /** Admins see every grantee; an operator sees only itself. */
  private toDto(i: Issuer, operatorIds: string[], p: Principal): IssuerDto {
    return {
      id: i.id,
      name: i.name,
      signerAddress: i.signerAddress,
      operatorIds: p.type === 'admin' ? operatorIds : operatorIds.filter((o) => o === p.id),
      createdAt: i.createdAt.toISOString(),
    };
  }
}
