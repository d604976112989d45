/**
 * The SQL of wallet_media and wallet_media_events (this module owns both tables).
 * Writes that belong to a wallet issuance take the issuance's EntityManager, so the
 * media rows commit with the address or not at all.
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { WalletMediumEvent, type MediumEventKind } from './entities/wallet-medium-event.entity';
import { WalletMedium, type MediumKind, type MediumStatus } from './entities/wallet-medium.entity';

export interface NewMedium {
  id: string;
  kind: MediumKind;
}

export interface NewMediumEvent {
  kind: MediumEventKind;
  location: string | null;
  custodian: string;
  witness: string | null;
  note: string | null;
  by: string;
}

@Injectable()
export class MediaRepository {
  constructor(private readonly ds: DataSource) {}

  async insertMedia(
    em: EntityManager | undefined,
    rows: {
      userId: string;
      issuanceId: string;
      address: string;
      status: MediumStatus;
      createdBy: string | null;
      media: readonly NewMedium[];
    },
  ): Promise<void> {
    if (!rows.media.length) return;
    await (em ?? this.ds.manager).getRepository(WalletMedium).insert(
      rows.media.map((m, position) => ({
        id: m.id,
        position,
        userId: rows.userId,
        issuanceId: rows.issuanceId,
        address: rows.address,
        kind: m.kind,
        status: rows.status,
        createdBy: rows.createdBy,
      })),
    );
  }

  /** A user's media, oldest first, with their events in order. */
  async listForUser(userId: string): Promise<Array<{ medium: WalletMedium; events: WalletMediumEvent[] }>> {
    const media = await this.ds
      .getRepository(WalletMedium)
      .find({ where: { userId }, order: { createdAt: 'ASC', position: 'ASC', id: 'ASC' } });
    if (!media.length) return [];
    const events = await this.ds
      .getRepository(WalletMediumEvent)
      .createQueryBuilder('e')
      .where('e.medium_id IN (:...ids)', { ids: media.map((m) => m.id) })
      .orderBy('e.at', 'ASC')
      .addOrderBy('e.id', 'ASC')
      .getMany();
    return media.map((medium) => ({ medium, events: events.filter((e) => e.mediumId === medium.id) }));
  }

  /** The medium of this user, locked for the rest of `em`'s transaction (events append in order). */
  findForUpdate(em: EntityManager, userId: string, mediumId: string): Promise<WalletMedium | null> {
    return em
      .getRepository(WalletMedium)
      .createQueryBuilder('m')
      .setLock('pessimistic_write')
      .where('m.id = :mediumId AND m.user_id = :userId', { mediumId, userId })
      .getOne();
  }

  async lastEventKind(em: EntityManager, mediumId: string): Promise<MediumEventKind | undefined> {
    const e = await em.getRepository(WalletMediumEvent).findOne({ where: { mediumId }, order: { at: 'DESC', id: 'DESC' } });
    return e?.kind;
  }

  async insertEvent(em: EntityManager, mediumId: string, e: NewMediumEvent): Promise<WalletMediumEvent> {
    const row = { id: randomUUID(), mediumId, ...e };
    const [saved] = await em.query<Array<{ at: Date }>>(
      `INSERT INTO wallet_media_events (id, medium_id, kind, location, custodian, witness, note, by_principal_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING at`,
      [row.id, mediumId, e.kind, e.location, e.custodian, e.witness, e.note, e.by],
    );
    return Object.assign(new WalletMediumEvent(), row, { at: saved!.at });
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }
}
