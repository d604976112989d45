import { CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Operator } from '../../operators/entities/operator.entity';
import { Issuer } from './issuer.entity';

/** Which operators may have an issuer's key sign for them. Deleting the row revokes at once. */
@Entity('issuer_grants')
@Index('idx_issuer_grants_operator', ['operatorId'])
export class IssuerGrant {
  @PrimaryColumn({ name: 'issuer_id', type: 'uuid' })
  issuerId!: string;

  @PrimaryColumn({ name: 'operator_id', type: 'uuid' })
  operatorId!: string;

  @ManyToOne(() => Issuer, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'issuer_id' })
  issuer?: Issuer;

  @ManyToOne(() => Operator, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'operator_id' })
  operator?: Operator;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
