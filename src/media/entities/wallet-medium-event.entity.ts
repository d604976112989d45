import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { WalletMedium } from './wallet-medium.entity';

export type MediumEventKind = 'stored' | 'moved' | 'handed-over' | 'destroyed';

/** One step of a medium's chain of custody (claims 6–7): append-only. */
@Entity('wallet_media_events')
@Check('chk_wallet_media_events_kind', `"kind" IN ('stored', 'moved', 'handed-over', 'destroyed')`)
@Index('idx_wallet_media_events_medium_at', ['mediumId', 'at', 'id'])
export class WalletMediumEvent {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'medium_id', type: 'uuid' })
  mediumId!: string;

  @ManyToOne(() => WalletMedium, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'medium_id' })
  medium?: WalletMedium;

  @Column({ type: 'varchar', length: 16 })
  kind!: MediumEventKind;

  @Column({ type: 'varchar', length: 200, nullable: true })
  location!: string | null;

  @Column({ type: 'varchar', length: 200 })
  custodian!: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  witness!: string | null;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  note!: string | null;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;

  /** The admin who recorded it. */
  @Column({ name: 'by_principal_id', type: 'uuid' })
  by!: string;
}
