import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Firms with their own staff (issue 15). Every v1 operator login becomes its firm's first
 * staff member with all four roles, keeping the v1 principal id, so tokens, idempotency
 * keys and audit references made before the upgrade stay valid.
 */
export class FirmStaff1796155400000 implements MigrationInterface {
  name = 'FirmStaff1796155400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "principals"
         ADD "must_change_password" boolean NOT NULL DEFAULT false,
         ADD "activation_code_hash" bytea,
         ADD "activation_expires_at" TIMESTAMP WITH TIME ZONE,
         ADD "totp_enabled" boolean NOT NULL DEFAULT false,
         ADD "totp_secret" bytea,
         ADD "totp_data_key" bytea,
         ADD "totp_kms_key_id" character varying(2048),
         ADD "totp_pending_secret" bytea,
         ADD "totp_pending_data_key" bytea,
         ADD "totp_pending_kms_key_id" character varying(2048),
         ADD "totp_last_step" bigint`,
    );
    await queryRunner.query(
      `CREATE TABLE "staff" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "email" character varying(254) NOT NULL,
         "roles" character varying(16) array NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'active',
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
         CONSTRAINT "PK_staff" PRIMARY KEY ("id"),
         CONSTRAINT "FK_staff_principal" FOREIGN KEY ("id") REFERENCES "principals"("id") ON DELETE RESTRICT,
         CONSTRAINT "FK_staff_operator" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE RESTRICT)`,
    );
    await queryRunner.query(`CREATE INDEX "idx_staff_operator_created" ON "staff" ("operator_id", "created_at", "id")`);
    // The v1 operator login is its firm's first staff member, with every role, under the same id.
    await queryRunner.query(
      `INSERT INTO "staff" ("id", "operator_id", "email", "roles", "status", "created_at")
         SELECT o."id", o."id", o."email", ARRAY['firm-admin','maker','checker','viewer']::varchar(16)[], 'active', o."created_at" FROM "operators" o`,
    );
    await queryRunner.query(
      `CREATE TABLE "api_keys" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "name" character varying(200) NOT NULL,
         "prefix" character varying(16) NOT NULL, "secret_hash" bytea NOT NULL, "roles" character varying(16) array NOT NULL,
         "owner_staff_id" uuid NOT NULL, "created_by" uuid NOT NULL,
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE,
         "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE,
         CONSTRAINT "PK_api_keys" PRIMARY KEY ("id"), CONSTRAINT "UQ_api_keys_prefix" UNIQUE ("prefix"),
         CONSTRAINT "FK_api_keys_operator" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE RESTRICT,
         CONSTRAINT "FK_api_keys_owner" FOREIGN KEY ("owner_staff_id") REFERENCES "staff"("id") ON DELETE RESTRICT)`,
    );
    await queryRunner.query(`CREATE INDEX "idx_api_keys_operator_created" ON "api_keys" ("operator_id", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "idx_api_keys_owner" ON "api_keys" ("owner_staff_id")`);
    await queryRunner.query(
      `CREATE TABLE "operator_applications" ("id" uuid NOT NULL, "firm_name" character varying(200) NOT NULL,
         "email" character varying(254) NOT NULL, "password_hash" character varying(255) NOT NULL,
         "status" character varying(16) NOT NULL DEFAULT 'pending', "reason" character varying(1000),
         "operator_id" uuid, "decided_by" uuid, "decided_at" TIMESTAMP WITH TIME ZONE,
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
         CONSTRAINT "PK_operator_applications" PRIMARY KEY ("id"),
         CONSTRAINT "FK_operator_applications_operator" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE RESTRICT)`,
    );
    await queryRunner.query(`CREATE INDEX "idx_operator_applications_created" ON "operator_applications" ("created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "idx_operator_applications_operator" ON "operator_applications" ("operator_id")`);
    await queryRunner.query(
      `CREATE TABLE "control_changes" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "kind" character varying(32) NOT NULL,
         "target_staff_id" uuid, "payload" jsonb NOT NULL, "requested_by" uuid NOT NULL,
         "status" character varying(16) NOT NULL DEFAULT 'pending', "effective_at" TIMESTAMP WITH TIME ZONE,
         "approved_by" uuid, "applied_at" TIMESTAMP WITH TIME ZONE,
         "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
         CONSTRAINT "PK_control_changes" PRIMARY KEY ("id"),
         CONSTRAINT "FK_control_changes_operator" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE RESTRICT,
         CONSTRAINT "FK_control_changes_target" FOREIGN KEY ("target_staff_id") REFERENCES "staff"("id") ON DELETE RESTRICT)`,
    );
    await queryRunner.query(`CREATE INDEX "idx_control_changes_operator_created" ON "control_changes" ("operator_id", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "idx_control_changes_target" ON "control_changes" ("target_staff_id")`);
    await queryRunner.query(`CREATE INDEX "idx_control_changes_due" ON "control_changes" ("effective_at") WHERE status = 'pending'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "control_changes"`);
    await queryRunner.query(`DROP TABLE "operator_applications"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP TABLE "staff"`);
    await queryRunner.query(
      `ALTER TABLE "principals"
         DROP COLUMN "totp_last_step", DROP COLUMN "totp_pending_kms_key_id", DROP COLUMN "totp_pending_data_key",
         DROP COLUMN "totp_pending_secret", DROP COLUMN "totp_kms_key_id", DROP COLUMN "totp_data_key", DROP COLUMN "totp_secret",
         DROP COLUMN "totp_enabled", DROP COLUMN "activation_expires_at", DROP COLUMN "activation_code_hash",
         DROP COLUMN "must_change_password"`,
    );
  }
}
