import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The next nonce per signer address, allocated under a row lock so instances never reuse or skip one. */
@Entity('signer_nonces')
export class SignerNonce {
  @PrimaryColumn({ type: 'varchar', length: 42 })
  address!: string;

  @Column({ name: 'next_nonce', type: 'integer' })
  nextNonce!: number;
}
