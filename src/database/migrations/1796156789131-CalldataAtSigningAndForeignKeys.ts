import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Calldata is built at signing (call_args kept, call_data filled when signed; rows queued
 * before keep their call_data), longer statuses (pending_approval, awaiting_signature),
 * signer holds, and foreign keys for rows that reference other modules' rows.
 */
export class CalldataAtSigningAndForeignKeys1796156789131 implements MigrationInterface {
  name = 'CalldataAtSigningAndForeignKeys1796156789131';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "signer_holds" ("address" character varying(42) NOT NULL, "reason" character varying(200) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a3f5fce9096d173a9901d17f4f0" PRIMARY KEY ("address"))`,
    );
    await queryRunner.query(`ALTER TABLE "transactions" ADD "call_args" jsonb`);
    // In place (TypeORM would drop and re-add the column, losing every row's status and the partial indexes on it).
    await queryRunner.query(`ALTER TABLE "transactions" ALTER COLUMN "status" TYPE character varying(24)`);
    await queryRunner.query(`ALTER TABLE "transactions" ALTER COLUMN "call_data" DROP NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE "tokens" ADD CONSTRAINT "FK_ec038edf35f3eb35eb5cd5a7ce2" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "tokens" ADD CONSTRAINT "FK_8bd2e0cddacf1651faba51db5d6" FOREIGN KEY ("issuer_id") REFERENCES "issuers"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "custody_entries" ADD CONSTRAINT "FK_a699ceaf35356899ae024282d97" FOREIGN KEY ("token_id") REFERENCES "tokens"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "custody_entries" ADD CONSTRAINT "FK_741834cc7a5fb27f9151c59c7b1" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "custody_entries" ADD CONSTRAINT "FK_0dd7f787d17a375220cba522df4" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "transactions" ADD CONSTRAINT "FK_e7c567e9200942c30954f0933d5" FOREIGN KEY ("token_id") REFERENCES "tokens"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "transactions" ADD CONSTRAINT "FK_e9acc6efa76de013e8c1553ed2b" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "transactions" DROP CONSTRAINT "FK_e9acc6efa76de013e8c1553ed2b"`);
    await queryRunner.query(`ALTER TABLE "transactions" DROP CONSTRAINT "FK_e7c567e9200942c30954f0933d5"`);
    await queryRunner.query(`ALTER TABLE "custody_entries" DROP CONSTRAINT "FK_0dd7f787d17a375220cba522df4"`);
    await queryRunner.query(`ALTER TABLE "custody_entries" DROP CONSTRAINT "FK_741834cc7a5fb27f9151c59c7b1"`);
    await queryRunner.query(`ALTER TABLE "custody_entries" DROP CONSTRAINT "FK_a699ceaf35356899ae024282d97"`);
    await queryRunner.query(`ALTER TABLE "tokens" DROP CONSTRAINT "FK_8bd2e0cddacf1651faba51db5d6"`);
    await queryRunner.query(`ALTER TABLE "tokens" DROP CONSTRAINT "FK_ec038edf35f3eb35eb5cd5a7ce2"`);
    await queryRunner.query(`ALTER TABLE "transactions" ALTER COLUMN "call_data" SET NOT NULL`);
    // Fails while a row holds a status longer than 16 characters (awaiting_signature): those must be resolved first.
    await queryRunner.query(`ALTER TABLE "transactions" ALTER COLUMN "status" TYPE character varying(16)`);
    await queryRunner.query(`ALTER TABLE "transactions" DROP COLUMN "call_args"`);
    await queryRunner.query(`DROP TABLE "signer_holds"`);
  }
}
