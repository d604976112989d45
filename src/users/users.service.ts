/**
 * Investors ("first account issuing"). Registration stores the user, a
 * `user.registered` notification and its ops e-mail in one transaction. Operator-scoped:
 * another operator's users are simply not found.
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, type Principal } from '../common/principal';
import { AppError, NotFoundError } from '../common/app-error';
import { paginate, type Page } from '../common/pagination';
import { firmOf, requireFirm } from '../common/principal';
import { NotificationsService } from '../notifications/notifications.service';
import { FirmsRepository } from '../operators/firms.repository';
import type { CreateUserDto, UpdateUserDto, UserDto, UserQuery } from './dto/user.dto';
import type { User } from './entities/user.entity';
import { UsersRepository } from './users.repository';
import { publishUserRegistered } from '../webhooks/webhook-events';

function toUserDto(u: User): UserDto {
  return {
    id: u.id,
    operatorId: u.operatorId,
    name: u.name,
    email: u.email,
    externalRef: u.externalRef,
    nameKana: u.nameKana,
    postalAddress: u.postalAddress,
    taxClass: u.taxClass,
    walletAddress: u.walletAddress,
    walletStatus: u.walletAddress ? 'issued' : 'pending',
    previousWalletAddresses: u.previousWalletAddresses,
    createdAt: u.createdAt.toISOString(),
  };
}

@Injectable()
export class UsersService {
  constructor(
    private readonly repo: UsersRepository,
    private readonly notifications: NotificationsService,
    private readonly firms: FirmsRepository,
    private readonly audit: AuditSink,
  ) {}

  async create(p: Principal, dto: CreateUserDto, requestId?: string): Promise<UserDto> {
    const id = randomUUID();
    const firm = requireFirm(p);
    const operator = await this.firms.describe(firm);
    const who = operator ? `${operator.name} (${operator.loginId})` : firm;
    await this.repo.transaction(async (em) => {
      try {
        await this.repo.insert(em, {
          id,
          operatorId: firm,
          name: dto.name,
          email: dto.email,
          externalRef: dto.externalRef ?? null,
          nameKana: dto.nameKana ?? null,
          postalAddress: dto.postalAddress ?? null,
          taxClass: dto.taxClass ?? 'individual',
          walletAddress: null,
          previousWalletAddresses: [],
          walletIssuedAt: null,
        });
      } catch (e) {
        if ((e as { code?: string }).code === '23505')
          throw new AppError('EXTERNAL_REF_TAKEN', 'This operator already has a user with that externalRef');
        throw e;
      }
      await this.notifications.notify(em, {
        kind: 'user.registered',
        operatorId: firm,
        subject: `[kagi] 新規投資家登録 / New investor registered: ${dto.name}`,
        body: [
          'A new investor was registered and awaits a wallet from the secure room.',
          '新しい投資家が登録されました。セキュアルームでのウォレット発行を待っています。',
          '',
          `User id: ${id}`,
          `Name: ${dto.name}`,
          `External ref: ${dto.externalRef ?? '-'}`,
          `Operator: ${who}`,
          '',
          `Secure room: npm run cli -- wallet:issue --user ${id} --out <removable media>`,
        ].join('\n'),
        mailOps: true,
      });
      await publishUserRegistered(em, { id, operatorId: firm, name: dto.name, externalRef: dto.externalRef ?? null });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firm,
          action: 'user.create',
          subject: { type: 'user', id },
          outcome: 'success',
          details: { externalRef: dto.externalRef ?? null },
          requestId,
        },
        em,
      );
    });
    return this.get(p, id);
  }

  /** Corrects the register fields (kana, postal address, tax class) of one of the firm's users. */
  async update(p: Principal, id: string, dto: UpdateUserDto, requestId?: string): Promise<UserDto> {
    const firm = requireFirm(p);
    const changes: Partial<Pick<User, 'nameKana' | 'postalAddress' | 'taxClass'>> = {};
    if (dto.nameKana !== undefined) changes.nameKana = dto.nameKana;
    if (dto.postalAddress !== undefined) changes.postalAddress = dto.postalAddress;
    if (dto.taxClass !== undefined) changes.taxClass = dto.taxClass;
    await this.repo.transaction(async (em) => {
      if (!(await this.repo.update(em, id, firm, changes))) throw new NotFoundError('User');
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firm,
          action: 'user.update',
          subject: { type: 'user', id },
          outcome: 'success',
          details: { fields: Object.keys(changes) },
          requestId,
        },
        em,
      );
    });
    return this.get(p, id);
  }

  /**
   * Users of `firm` named by id or by externalRef, for bulk requests: one query each way.
   * Unknown and foreign ones are simply missing from the maps.
   */
  async lookup(
    firm: string,
    ids: readonly string[],
    refs: readonly string[],
  ): Promise<{ byId: Map<string, User>; byRef: Map<string, User> }> {
    const rows = await this.repo.lookup(firm, ids, refs);
    return { byId: new Map(rows.map((u) => [u.id, u])), byRef: new Map(rows.filter((u) => u.externalRef).map((u) => [u.externalRef!, u])) };
  }

  /** Users with a wallet visible to `firm` (null: all), with their register fields, oldest first. */
  registered(firm: string | null): Promise<User[]> {
    return this.repo.registered(firm);
  }

  /** Users by id (visible to `firm`; null: all). */
  byIds(firm: string | null, ids: readonly string[]): Promise<User[]> {
    return this.repo.byIds(firm, ids);
  }

  list(p: Principal, q: UserQuery): Promise<Page<UserDto>> {
    const qb = this.repo.query(firmOf(p));
    if (q.walletStatus === 'pending') qb.andWhere('u.wallet_address IS NULL');
    if (q.walletStatus === 'issued') qb.andWhere('u.wallet_address IS NOT NULL');
    return paginate(qb, q, toUserDto);
  }

  async get(p: Principal, id: string): Promise<UserDto> {
    const u = await this.repo.find(id, firmOf(p));
    if (!u) throw new NotFoundError('User');
    return toUserDto(u);
  }

  /** For token operations: a user of this operator, or 404 exactly as an unknown id. */
  async getOwnedUser(operatorId: string, userId: string): Promise<User> {
    const u = await this.repo.find(userId, operatorId);
    if (!u) throw new NotFoundError('User');
    return u;
  }

  /** Users with a wallet visible to `firm` (null: all), oldest first. */
  withWallets(firm: string | null): Promise<Array<{ id: string; walletAddress: `0x${string}` }>> {
    return this.repo.withWallets(firm);
  }
}
