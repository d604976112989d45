import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Secure-room media (wallet_media) and their chain of custody (wallet_media_events,
 * append-only like audit_events). Generated from the entities, plus the trigger.
 */
export class WalletMedia1796155513596 implements MigrationInterface {
  name = 'WalletMedia1796155513596';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "wallet_media" ("id" uuid NOT NULL, "user_id" uuid NOT NULL, "issuance_id" uuid NOT NULL, "address" character varying(42) NOT NULL, "kind" character varying(16) NOT NULL, "position" smallint NOT NULL, "status" character varying(16) NOT NULL, "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_wallet_media_status" CHECK ("status" IN ('issued', 'void')), CONSTRAINT "chk_wallet_media_kind" CHECK ("kind" IN ('paper', 'file', 'display')), CONSTRAINT "PK_85f8be9f79b259fb3ab46b4ee3b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_wallet_media_issuance" ON "wallet_media" ("issuance_id") `);
    await queryRunner.query(`CREATE INDEX "idx_wallet_media_user_created" ON "wallet_media" ("user_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "wallet_media_events" ("id" uuid NOT NULL, "medium_id" uuid NOT NULL, "kind" character varying(16) NOT NULL, "location" character varying(200), "custodian" character varying(200) NOT NULL, "witness" character varying(200), "note" character varying(1000), "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "by_principal_id" uuid NOT NULL, CONSTRAINT "chk_wallet_media_events_kind" CHECK ("kind" IN ('stored', 'moved', 'handed-over', 'destroyed')), CONSTRAINT "PK_753ce36f00d763c204ea5aebe36" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_wallet_media_events_medium_at" ON "wallet_media_events" ("medium_id", "at", "id") `);
    await queryRunner.query(
      `ALTER TABLE "wallet_media" ADD CONSTRAINT "FK_fcc4010deb3f99d394624b64f83" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "wallet_media_events" ADD CONSTRAINT "FK_e984c3f10d4f4d50fa8ad30ea8a" FOREIGN KEY ("medium_id") REFERENCES "wallet_media"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `CREATE FUNCTION kagi_wallet_media_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'wallet_media_events is append-only' USING ERRCODE = 'insufficient_privilege'; END $$`,
    );
    await queryRunner.query(
      `CREATE TRIGGER wallet_media_events_no_update_delete BEFORE UPDATE OR DELETE ON "wallet_media_events" FOR EACH ROW EXECUTE FUNCTION kagi_wallet_media_events_append_only()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER wallet_media_events_no_update_delete ON "wallet_media_events"`);
    await queryRunner.query(`DROP FUNCTION kagi_wallet_media_events_append_only()`);
    await queryRunner.query(`ALTER TABLE "wallet_media_events" DROP CONSTRAINT "FK_e984c3f10d4f4d50fa8ad30ea8a"`);
    await queryRunner.query(`ALTER TABLE "wallet_media" DROP CONSTRAINT "FK_fcc4010deb3f99d394624b64f83"`);
    await queryRunner.query(`DROP INDEX "public"."idx_wallet_media_events_medium_at"`);
    await queryRunner.query(`DROP TABLE "wallet_media_events"`);
    await queryRunner.query(`DROP INDEX "public"."idx_wallet_media_user_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_wallet_media_issuance"`);
    await queryRunner.query(`DROP TABLE "wallet_media"`);
  }
}
