import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TxReplacements1795555257941 implements MigrationInterface {
  name = 'TxReplacements1795555257941';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "transactions" ADD "replaced_hashes" character varying(66) array`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "transactions" DROP COLUMN "replaced_hashes"`);
  }
}
