import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795549504363 implements MigrationInterface {
  name = 'Init1795549504363';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_events" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actor_type" character varying(32) NOT NULL, "actor_id" character varying(64), "operator_id" character varying(64), "action" character varying(64) NOT NULL, "subject_type" character varying(32), "subject_id" character varying(128), "outcome" character varying(16) NOT NULL, "details" jsonb NOT NULL, "request_id" character varying(128), CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_audit_events_operator" ON "audit_events" ("operator_id", "at") `);
    await queryRunner.query(`CREATE INDEX "idx_audit_events_action" ON "audit_events" ("action", "at") `);
    await queryRunner.query(`CREATE INDEX "idx_audit_events_actor" ON "audit_events" ("actor_id", "at") `);
    await queryRunner.query(`CREATE INDEX "idx_audit_events_at" ON "audit_events" ("at", "id") `);
    // Append-only audit trail, enforced by the database for every role (a trigger
    // rather than grants, so it also holds when the app connects as the table owner).
    await queryRunner.query(
      `CREATE FUNCTION kagi_audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege'; END $$`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON "audit_events" FOR EACH ROW EXECUTE FUNCTION kagi_audit_events_append_only()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON "audit_events" FOR EACH STATEMENT EXECUTE FUNCTION kagi_audit_events_append_only()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER audit_events_no_truncate ON "audit_events"`);
    await queryRunner.query(`DROP TRIGGER audit_events_no_update_delete ON "audit_events"`);
    await queryRunner.query(`DROP FUNCTION kagi_audit_events_append_only()`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_actor"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_action"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_operator"`);
    await queryRunner.query(`DROP TABLE "audit_events"`);
  }
}
