import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PipelineIndexes1796111641796 implements MigrationInterface {
  name = 'PipelineIndexes1796111641796';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_status"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_signer_queue"`);
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_custody_history" ON "transactions" ("token_id", "block_number") WHERE kind IN ('deposit', 'withdraw') AND status = 'confirmed'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_pending_withdrawals" ON "transactions" ("token_id", "user_id") WHERE kind = 'withdraw' AND status IN ('queued', 'submitted')`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_confirmed_debits" ON "transactions" ("token_id", "debit_address", "block_number") WHERE status = 'confirmed' AND debit_address IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_pending_debits" ON "transactions" ("token_id", "debit_address") WHERE status IN ('queued', 'submitted') AND debit_address IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_submitted" ON "transactions" ("submitted_at", "id") WHERE status = 'submitted'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transactions_queue" ON "transactions" ("from_address", "created_at", "id") WHERE status = 'queued'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_queue"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_submitted"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_pending_debits"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_confirmed_debits"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_pending_withdrawals"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transactions_custody_history"`);
    await queryRunner.query(`CREATE INDEX "idx_transactions_signer_queue" ON "transactions" ("from_address", "status", "created_at") `);
    await queryRunner.query(`CREATE INDEX "idx_transactions_status" ON "transactions" ("status") `);
  }
}
