import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A signer whose queue is held: the claimer signs nothing of it until the hold is released (key rotation). */
@Entity('signer_holds')
export class SignerHold {
  @PrimaryColumn({ type: 'varchar', length: 42 })
  address!: string;

  @Column({ type: 'varchar', length: 200 })
  reason!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
