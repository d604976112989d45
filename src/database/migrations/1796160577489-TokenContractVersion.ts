import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tokens know their contract version and whether holders may transfer (tokens deployed before v2: 1, true). */
export class TokenContractVersion1796160577489 implements MigrationInterface {
  name = 'TokenContractVersion1796160577489';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Every token that exists now was deployed from the v1 contract: version 1, holder transfers on.
    await queryRunner.query(`ALTER TABLE "tokens" ADD "contract_version" smallint NOT NULL DEFAULT '1'`);
    await queryRunner.query(`ALTER TABLE "tokens" ADD "holder_transfers" boolean NOT NULL DEFAULT true`);
    await queryRunner.query(`ALTER TABLE "tokens" ALTER COLUMN "contract_version" SET DEFAULT '2'`);
    await queryRunner.query(`ALTER TABLE "tokens" ALTER COLUMN "holder_transfers" SET DEFAULT false`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "tokens" DROP COLUMN "holder_transfers"`);
    await queryRunner.query(`ALTER TABLE "tokens" DROP COLUMN "contract_version"`);
  }
}
