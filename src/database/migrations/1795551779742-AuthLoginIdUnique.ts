import type { MigrationInterface, QueryRunner } from 'typeorm';

/** loginId is unique across every principal, case-insensitively (TypeORM cannot express a functional index). */
export class AuthLoginIdUnique1795551779742 implements MigrationInterface {
  name = 'AuthLoginIdUnique1795551779742';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_principals_login_id" ON "principals" (lower("login_id"))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."uq_principals_login_id"`);
  }
}
