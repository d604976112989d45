import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Auth1795551779741 implements MigrationInterface {
  name = 'Auth1795551779741';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "login_failures" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "login_key" character varying(64) NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_8211e8ec810fd7f976b98ce97a0" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_login_failures_login_at" ON "login_failures" ("login_key", "at") `);
    await queryRunner.query(
      `CREATE TABLE "principals" ("id" uuid NOT NULL, "type" character varying(16) NOT NULL, "login_id" character varying(64) NOT NULL, "name" character varying(200) NOT NULL, "password_hash" character varying(255) NOT NULL, "token_version" integer NOT NULL DEFAULT '1', "exempt_jti" character varying(64), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_58c7b420eb803e39d754963719c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "rate_limit_buckets" ("key" character varying(160) NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "count" integer NOT NULL, CONSTRAINT "PK_9eb2f8a2ae370667b4ca83dd313" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "operators" ("id" uuid NOT NULL, "email" character varying(254) NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'active', "signer_address" character varying(42) NOT NULL, "custody_address" character varying(42) NOT NULL, "encrypted_key" bytea NOT NULL, "encrypted_data_key" bytea NOT NULL, "kms_key_id" character varying(2048) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3d02b3692836893720335a79d1b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_operators_created" ON "operators" ("created_at", "id") `);
    await queryRunner.query(
      `ALTER TABLE "operators" ADD CONSTRAINT "FK_3d02b3692836893720335a79d1b" FOREIGN KEY ("id") REFERENCES "principals"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "operators" DROP CONSTRAINT "FK_3d02b3692836893720335a79d1b"`);
    await queryRunner.query(`DROP INDEX "public"."idx_operators_created"`);
    await queryRunner.query(`DROP TABLE "operators"`);
    await queryRunner.query(`DROP TABLE "rate_limit_buckets"`);
    await queryRunner.query(`DROP TABLE "principals"`);
    await queryRunner.query(`DROP INDEX "public"."idx_login_failures_login_at"`);
    await queryRunner.query(`DROP TABLE "login_failures"`);
  }
}
