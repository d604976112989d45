import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from '../../users/entities/user.entity';

export type MediumKind = 'paper' | 'file' | 'display';
/** `issued`: the issuance committed; `void`: it failed after this medium may have come into being (destroy it). */
export type MediumStatus = 'issued' | 'void';

/**
 * One carrier of a user's private key (a printed sheet, a PDF file, a display): its id
 * is printed on the sheet, so the chain of custody (wallet_media_events) can follow it.
 * Never holds key material: only the public address.
 */
@Entity('wallet_media')
@Check('chk_wallet_media_kind', `"kind" IN ('paper', 'file', 'display')`)
@Check('chk_wallet_media_status', `"status" IN ('issued', 'void')`)
@Index('idx_wallet_media_user_created', ['userId', 'createdAt', 'id'])
@Index('idx_wallet_media_issuance', ['issuanceId'])
export class WalletMedium {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  /** Media made in one issuance run share it (display, file and sheet of the same key). */
  @Column({ name: 'issuance_id', type: 'uuid' })
  issuanceId!: string;

  @Column({ type: 'varchar', length: 42 })
  address!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: MediumKind;

  /** Delivery order within the issuance (display, then file, then sheet). */
  @Column({ type: 'smallint' })
  position!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: MediumStatus;

  /** The principal (admin) who issued it. */
  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
