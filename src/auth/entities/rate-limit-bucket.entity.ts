import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A fixed one-minute window of requests per client key, shared by every instance. */
@Entity('rate_limit_buckets')
export class RateLimitBucket {
  @PrimaryColumn({ type: 'varchar', length: 160 })
  key!: string;

  @Column({ name: 'window_start', type: 'timestamptz' })
  windowStart!: Date;

  @Column({ type: 'integer' })
  count!: number;
}
