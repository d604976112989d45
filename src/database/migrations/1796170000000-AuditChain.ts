import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The verifiable audit trail: audit_chain (each event's seq, prevHash, hash per chain),
 * audit_anchors (on-chain anchors of the heads), audit_anchor_keys (the sealed anchor key),
 * and audit_events.txid, which lets the chainer find not-yet-chained events without scanning
 * the whole trail. Events already stored keep txid NULL and are chained from genesis by the
 * chainer's first pass (the hash needs RFC 8785 JCS, which lives in the application).
 * audit_chain and audit_anchors are append-only by a trigger, like audit_events.
 */
export class AuditChain1796170000000 implements MigrationInterface {
  name = 'AuditChain1796170000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_anchors" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "heads" jsonb NOT NULL, "digest" character(64) NOT NULL, "tx_hash" character varying(66) NOT NULL, "block_number" bigint NOT NULL, "from_address" character varying(42) NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_241c34638a9462c0fc243b69a6a" UNIQUE ("tx_hash"), CONSTRAINT "PK_0348aa5906ffaf282e114fcbb3b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_audit_anchors_at" ON "audit_anchors" ("at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "audit_anchor_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "signer_address" character varying(42) NOT NULL, "encrypted_key" bytea NOT NULL, "encrypted_data_key" bytea NOT NULL, "kms_key_id" character varying(2048) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_4dff40eb6e1b86c86a56fd41fef" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "audit_chain" ("chain" character varying(64) NOT NULL, "seq" bigint NOT NULL, "event_id" uuid NOT NULL, "prev_hash" character(64) NOT NULL, "hash" character(64) NOT NULL, "chained_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "REL_25e5b308039a32adc42d63c808" UNIQUE ("event_id"), CONSTRAINT "PK_c2b0697df2ff0327ef35e3edfe7" PRIMARY KEY ("chain", "seq"))`,
    );
    // Added without a default first, so rows already stored keep NULL (chained from genesis).
    await queryRunner.query(`ALTER TABLE "audit_events" ADD "txid" bigint`);
    // The writing transaction's id as a bigint (xid8 fits: epoch and xid in 64 bits).
    await queryRunner.query(
      `CREATE FUNCTION kagi_current_txid() RETURNS bigint LANGUAGE sql AS $$ SELECT pg_current_xact_id()::text::bigint $$`,
    );
    await queryRunner.query(`ALTER TABLE "audit_events" ALTER COLUMN "txid" SET DEFAULT kagi_current_txid()`);
    await queryRunner.query(`CREATE INDEX "idx_audit_events_txid" ON "audit_events" ("txid") `);
    await queryRunner.query(
      `ALTER TABLE "audit_chain" ADD CONSTRAINT "FK_25e5b308039a32adc42d63c8085" FOREIGN KEY ("event_id") REFERENCES "audit_events"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `CREATE FUNCTION kagi_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$`,
    );
    for (const table of ['audit_chain', 'audit_anchors']) {
      await queryRunner.query(
        `CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION kagi_append_only()`,
      );
      await queryRunner.query(
        `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION kagi_append_only()`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['audit_anchors', 'audit_chain']) {
      await queryRunner.query(`DROP TRIGGER ${table}_no_truncate ON "${table}"`);
      await queryRunner.query(`DROP TRIGGER ${table}_no_update_delete ON "${table}"`);
    }
    await queryRunner.query(`DROP FUNCTION kagi_append_only()`);
    await queryRunner.query(`ALTER TABLE "audit_chain" DROP CONSTRAINT "FK_25e5b308039a32adc42d63c8085"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_txid"`);
    await queryRunner.query(`ALTER TABLE "audit_events" DROP COLUMN "txid"`);
    await queryRunner.query(`DROP FUNCTION kagi_current_txid()`);
    await queryRunner.query(`DROP TABLE "audit_chain"`);
    await queryRunner.query(`DROP TABLE "audit_anchor_keys"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_anchors_at"`);
    await queryRunner.query(`DROP TABLE "audit_anchors"`);
  }
}
