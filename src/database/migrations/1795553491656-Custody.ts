import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Custody1795553491656 implements MigrationInterface {
  name = 'Custody1795553491656';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "custody_entries" ("token_id" uuid NOT NULL, "operator_id" uuid NOT NULL, "user_id" uuid NOT NULL, "amount" numeric(78,0) NOT NULL, CONSTRAINT "PK_68c74058d1d2c4357e8ef0f77c7" PRIMARY KEY ("token_id", "operator_id", "user_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_custody_operator" ON "custody_entries" ("token_id", "operator_id") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_custody_operator"`);
    await queryRunner.query(`DROP TABLE "custody_entries"`);
  }
}
