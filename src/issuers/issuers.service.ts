/**
 * Issuers and their sealed signing keys (the per-issuer key variant). Several operators
 * may be granted one issuer; authority comes only from a current grant, re-checked by
 * the signing pipeline just before each signature.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, type Principal } from '../common/principal';
import { GasFunding } from '../chain/gas-funding';
import { AppError, NotFoundError } from '../common/app-error';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { sealedKeyOf, type SealedKey } from '../kms/sealed-key';
import { repositoryStore, saveRewrapped, SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import { firmOf } from '../common/principal';
import { FirmsRepository } from '../operators/firms.repository';
import { PlatformActions } from '../platform-actions/platform-actions.service';
import type { Issuer } from './entities/issuer.entity';
import { IssuersRepository } from './issuers.repository';

/** A grant hands out signing power: a platform action (a second admin approves with PLATFORM_FOUR_EYES). */
const GRANT = 'issuer-grant';

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
    private readonly repo: IssuersRepository,
    private readonly firms: FirmsRepository,
    private readonly keys: SigningKeys,
    private readonly audit: AuditSink,
    private readonly gas: GasFunding,
    private readonly stores: SealedKeyStores,
    private readonly actions: PlatformActions,
  ) {}

  onModuleInit(): void {
    this.stores.register(repositoryStore('issuer', this.repo.issuers()));
    this.actions.register(GRANT, {
      run: async (em, action) => {
        const operatorId = String(action.payload.operatorId);
        await this.repo.grant(em, action.subject_id, operatorId);
        await this.audit.record(
          {
            actor: { type: 'admin', id: action.requested_by },
            operatorId,
            action: 'issuer.grant',
            subject: { type: 'issuer', id: action.subject_id },
            outcome: 'success',
            details: { operatorId, platformActionId: action.id },
          },
          em,
        );
        return { operatorId };
      },
    });
  }

  async create(name: string, admin: Principal, requestId?: string): Promise<IssuerDto> {
    const id = randomUUID();
    const { address, sealed } = await this.keys.create({ kind: 'issuer', id });
    await this.repo.transaction(async (em) => {
      await this.repo.insert(em, {
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
    const page = await paginate(this.repo.query(firmOf(p)), q, (i) => i);
    const grants = await this.repo.grantsOf(page.items.map((i) => i.id));
    return { items: page.items.map((i) => this.toDto(i, grants.get(i.id) ?? [], p)), nextCursor: page.nextCursor };
  }

  async get(id: string, p: Principal): Promise<IssuerDto> {
    const i = await this.repo.find(id);
    if (!i) throw new NotFoundError('Issuer');
    const grants = (await this.repo.grantsOf([id])).get(id) ?? [];
    const firm = firmOf(p);
    if (firm && !grants.includes(firm)) throw new NotFoundError('Issuer');
    return this.toDto(i, grants, p);
  }

  /** The grant now (PLATFORM_FOUR_EYES off), or the platform action a second admin approves. */
  async grant(
    id: string,
    operatorId: string,
    admin: Principal,
    requestId?: string,
  ): Promise<{ issuer: IssuerDto } | { actionId: string; status: string }> {
    await this.get(id, admin);
    if (!(await this.firms.describe(operatorId))) throw new NotFoundError('Operator');
    const out = await this.repo.transaction((em) =>
      this.actions.request(em, admin, { kind: GRANT, subject: { type: 'issuer', id }, payload: { operatorId } }, requestId),
    );
    if (!out.ran) return { actionId: out.action.id, status: out.action.status };
    return { issuer: await this.get(id, admin) };
  }

  async revoke(id: string, operatorId: string, admin: Principal, requestId?: string): Promise<IssuerDto> {
    await this.get(id, admin);
    await this.repo.transaction(async (em) => {
      if (!(await this.repo.revoke(em, id, operatorId))) throw new NotFoundError('Grant');
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
    const i = await this.repo.find(id);
    if (!i) throw new NotFoundError('Issuer');
    const sealed = await this.keys.rewrap({ kind: 'issuer', id }, sealedKeyOf(i), {
      actor: actorOf(admin),
      purpose: 'issuer key-rewrap',
      requestId,
    });
    await saveRewrapped(this.repo.issuers(), id, sealed);
    return this.get(id, admin);
  }

  /** For token creation and the pipeline: the grant must exist now. */
  async assertGranted(issuerId: string, operatorId: string): Promise<Issuer> {
    const i = await this.repo.find(issuerId);
    const granted = i ? await this.repo.isGranted(issuerId, operatorId) : false;
    if (!i || !granted) throw new AppError('ISSUER_NOT_GRANTED', 'This operator is not granted that issuer');
    return i;
  }

  /** Key rotation's last step: the new sealed key replaces the old one, in the caller's transaction. */
  replaceKey(em: EntityManager, id: string, k: SealedKey): Promise<void> {
    return this.repo.replaceKey(em, id, k);
  }

  /** The issuer's current signing address (the agent on its tokens; a rotation changes it). */
  async signerAddressOf(issuerId: string): Promise<`0x${string}`> {
    const i = await this.repo.find(issuerId);
    if (!i) throw new NotFoundError('Issuer');
    return i.signerAddress;
  }

  /** True while `operatorId` is granted the issuer. */
  isGranted(issuerId: string, operatorId: string): Promise<boolean> {
    return this.repo.isGranted(issuerId, operatorId);
  }

  /** Admins see every grantee; an operator sees only itself. */
  private toDto(i: Issuer, operatorIds: string[], p: Principal): IssuerDto {
    return {
      id: i.id,
      name: i.name,
      signerAddress: i.signerAddress,
      operatorIds: firmOf(p) === null ? operatorIds : operatorIds.filter((o) => o === firmOf(p)),
      createdAt: i.createdAt.toISOString(),
    };
  }
}
