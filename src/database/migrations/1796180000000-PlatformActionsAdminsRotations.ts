import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Platform four eyes and key lifecycle: platform actions (what waits for a second admin),
 * admins' e-mail addresses (POST /v1/admins), key rotations and their steps.
 */
export class PlatformActionsAdminsRotations1796180000000 implements MigrationInterface {
  name = 'PlatformActionsAdminsRotations1796180000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "platform_actions" ("id" uuid NOT NULL, "kind" character varying(48) NOT NULL, "status" character varying(24) NOT NULL,
        "subject_type" character varying(32) NOT NULL, "subject_id" character varying(64) NOT NULL, "payload" jsonb NOT NULL DEFAULT '{}',
        "requested_by" uuid NOT NULL, "approved_by" uuid, "reason" text, "result" jsonb,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "decided_at" TIMESTAMP WITH TIME ZONE, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "PK_platform_actions" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "idx_platform_actions_created" ON "platform_actions" ("created_at", "id")`);
    await q.query(`CREATE INDEX "idx_platform_actions_subject" ON "platform_actions" ("subject_type", "subject_id")`);
    await q.query(`CREATE INDEX "idx_platform_actions_pending" ON "platform_actions" ("status") WHERE status = 'pending_approval'`);
    await q.query(
      `CREATE TABLE "admin_profiles" ("id" uuid NOT NULL, "email" character varying(320) NOT NULL,
        CONSTRAINT "PK_admin_profiles" PRIMARY KEY ("id"),
        CONSTRAINT "FK_admin_profiles_principal" FOREIGN KEY ("id") REFERENCES "principals"("id") ON DELETE CASCADE)`,
    );
    await q.query(
      `CREATE TABLE "rotations" ("id" uuid NOT NULL, "action_id" uuid, "signer_kind" character varying(16) NOT NULL, "signer_id" uuid NOT NULL,
        "old_address" character varying(42) NOT NULL, "new_address" character varying(42),
        "new_encrypted_key" bytea, "new_encrypted_data_key" bytea, "new_kms_key_id" character varying(2048),
        "status" character varying(24) NOT NULL, "error" jsonb, "requested_by" uuid NOT NULL, "legal_basis" jsonb,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "completed_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "PK_rotations" PRIMARY KEY ("id"),
        CONSTRAINT "FK_rotations_action" FOREIGN KEY ("action_id") REFERENCES "platform_actions"("id") ON DELETE RESTRICT)`,
    );
    // One running rotation per signer: the database refuses a second (ROTATION_IN_PROGRESS).
    await q.query(
      `CREATE UNIQUE INDEX "uq_rotations_active_signer" ON "rotations" ("signer_kind", "signer_id") WHERE status IN ('pending_approval', 'running', 'waiting_for_gas', 'failed')`,
    );
    await q.query(`CREATE INDEX "idx_rotations_action" ON "rotations" ("action_id")`);
    await q.query(
      `CREATE TABLE "rotation_steps" ("rotation_id" uuid NOT NULL, "seq" integer NOT NULL, "kind" character varying(24) NOT NULL,
        "token_id" uuid, "transaction_id" uuid, "status" character varying(16) NOT NULL DEFAULT 'pending', "error" jsonb,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_rotation_steps" PRIMARY KEY ("rotation_id", "seq"),
        CONSTRAINT "FK_rotation_steps_rotation" FOREIGN KEY ("rotation_id") REFERENCES "rotations"("id") ON DELETE CASCADE)`,
    );
    await q.query(`CREATE INDEX "idx_rotation_steps_transaction" ON "rotation_steps" ("transaction_id")`);
    await q.query(`CREATE INDEX "idx_rotation_steps_token" ON "rotation_steps" ("token_id")`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "rotation_steps"`);
    await q.query(`DROP TABLE "rotations"`);
    await q.query(`DROP TABLE "admin_profiles"`);
    await q.query(`DROP TABLE "platform_actions"`);
  }
}
