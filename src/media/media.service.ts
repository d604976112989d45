/**
 * Secure-room media (claims 6–7): every carrier of a user's key (printed sheet, PDF
 * file, display) has an id printed on it and a chain of custody. Wallet issuance
 * records the media in its own transaction (recordIssued); a failed issuance records
 * only the media that may exist anyway, as `void` (recordVoid), so they are destroyed.
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, type Principal } from '../common/principal';
import { NotFoundError, ValidationError } from '../common/app-error';
import { UsersService } from '../users/users.service';
import type { CreateMediumEventDto, MediumDto, MediumEventDto, MediumListDto } from './dto/media.dto';
import type { WalletMediumEvent } from './entities/wallet-medium-event.entity';
import { MediaRepository, type NewMedium } from './media.repository';

function toEventDto(e: WalletMediumEvent): MediumEventDto {
  return {
    id: e.id,
    mediumId: e.mediumId,
    kind: e.kind,
    location: e.location,
    custodian: e.custodian,
    witness: e.witness,
    note: e.note,
    at: e.at.toISOString(),
    by: e.by,
  };
}

export interface MediaOfIssuance {
  userId: string;
  operatorId: string;
  issuanceId: string;
  address: string;
  actorId: string | null;
  media: readonly NewMedium[];
}

@Injectable()
export class MediaService {
  constructor(
    private readonly repo: MediaRepository,
    private readonly users: UsersService,
    private readonly audit: AuditSink,
  ) {}

  /** Inside the issuance's transaction: the media commit with the address. */
  recordIssued(em: EntityManager, m: MediaOfIssuance): Promise<void> {
    return this.repo.insertMedia(em, { ...m, status: 'issued', createdBy: m.actorId });
  }

  /**
   * After a failed issuance: media that may exist although nothing was issued (a sheet
   * that may have printed, a key that was shown) are recorded as `void`, to be destroyed.
   */
  async recordVoid(m: MediaOfIssuance & { actor: { type: 'admin' | 'cli'; id: string }; reason: string }): Promise<void> {
    if (!m.media.length) return;
    await this.repo.transaction(async (em) => {
      await this.repo.insertMedia(em, { ...m, status: 'void', createdBy: m.actorId });
      await this.audit.record(
        {
          actor: m.actor,
          operatorId: m.operatorId,
          action: 'wallet.medium.void',
          subject: { type: 'user', id: m.userId },
          outcome: 'failure',
          details: {
            issuanceId: m.issuanceId,
            address: m.address,
            media: m.media.map((x) => ({ id: x.id, kind: x.kind })),
            reason: m.reason,
          },
        },
        em,
      );
    });
  }

  async list(p: Principal, userId: string): Promise<MediumListDto> {
    await this.users.get(p, userId);
    const rows = await this.repo.listForUser(userId);
    return {
      items: rows.map(({ medium, events }): MediumDto => ({
        mediumId: medium.id,
        address: medium.address,
        kind: medium.kind,
        status: medium.status,
        createdAt: medium.createdAt.toISOString(),
        events: events.map(toEventDto),
      })),
    };
  }

  async addEvent(p: Principal, userId: string, mediumId: string, dto: CreateMediumEventDto, requestId?: string): Promise<MediumEventDto> {
    const user = await this.users.get(p, userId);
    return this.repo.transaction(async (em) => {
      const medium = await this.repo.findForUpdate(em, userId, mediumId);
      if (!medium) throw new NotFoundError('Medium');
      if ((await this.repo.lastEventKind(em, mediumId)) === 'destroyed')
        throw new ValidationError([{ field: 'kind', message: 'this medium was destroyed: its chain of custody is closed' }]);
      const event = await this.repo.insertEvent(em, mediumId, {
        kind: dto.kind,
        location: dto.location ?? null,
        custodian: dto.custodian,
        witness: dto.witness ?? null,
        note: dto.note ?? null,
        by: p.id,
      });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: user.operatorId,
          action: 'wallet.medium.event',
          subject: { type: 'wallet-medium', id: mediumId },
          outcome: 'success',
          details: { userId, kind: dto.kind, eventId: event.id },
          requestId,
        },
        em,
      );
      return toEventDto(event);
    });
  }
}
