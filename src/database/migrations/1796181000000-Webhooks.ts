import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks (src/webhooks owns all three tables; raw SQL, no entities):
 * - webhook_endpoints: a firm's (operator_id) or the platform's (NULL) receiver, its secret
 *   sealed with the envelope (and the previous one for 24 h after a rotation), the next
 *   `sequence` it will get and the delivery lease of the instance sending to it;
 * - webhook_events: the outbox, written in the transaction of the change it reports (txid
 *   lets the sequencer take events in commit order, like the audit chainer);
 * - webhook_deliveries: one row per endpoint and event, with the endpoint's `sequence`.
 */
export class Webhooks1796181000000 implements MigrationInterface {
  name = 'Webhooks1796181000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "webhook_endpoints" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "operator_id" uuid, "url" character varying(2048) NOT NULL, "events" character varying(64)[] NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "disabled_reason" character varying(16), "disabled_at" TIMESTAMP WITH TIME ZONE, "encrypted_secret" bytea NOT NULL, "encrypted_data_key" bytea NOT NULL, "kms_key_id" character varying(2048) NOT NULL, "secret_version" integer NOT NULL DEFAULT 1, "previous_encrypted_secret" bytea, "previous_encrypted_data_key" bytea, "previous_kms_key_id" character varying(2048), "previous_expires_at" TIMESTAMP WITH TIME ZONE, "next_sequence" bigint NOT NULL DEFAULT 1, "lease_until" TIMESTAMP WITH TIME ZONE, "leased_by" character varying(80), "created_by" character varying(64) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_webhook_endpoints" PRIMARY KEY ("id"), CONSTRAINT "CHK_webhook_endpoints_reason" CHECK ("disabled_reason" IN ('manual', 'failing')))`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "FK_webhook_endpoints_operator" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE CASCADE`,
    );
    await queryRunner.query(`CREATE INDEX "idx_webhook_endpoints_operator" ON "webhook_endpoints" ("operator_id", "created_at", "id")`);
    await queryRunner.query(
      `CREATE TABLE "webhook_events" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "operator_id" uuid, "type" character varying(64) NOT NULL, "data" jsonb NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(), "txid" bigint NOT NULL DEFAULT kagi_current_txid(), "sequenced_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_webhook_events" PRIMARY KEY ("id"))`,
    );
    // Small: an event is in it only until the sequencer has fanned it out.
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_events_unsequenced" ON "webhook_events" ("txid", "occurred_at", "id") WHERE "sequenced_at" IS NULL`,
    );
    await queryRunner.query(`CREATE INDEX "idx_webhook_events_operator" ON "webhook_events" ("operator_id")`);
    await queryRunner.query(
      `CREATE TABLE "webhook_deliveries" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "endpoint_id" uuid NOT NULL, "event_id" uuid NOT NULL, "sequence" bigint NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'pending', "attempts" integer NOT NULL DEFAULT 0, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "failing_since" TIMESTAMP WITH TIME ZONE, "response_status" integer, "last_error" character varying(300), "last_attempt_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_webhook_deliveries" PRIMARY KEY ("id"), CONSTRAINT "UQ_webhook_deliveries_sequence" UNIQUE ("endpoint_id", "sequence"), CONSTRAINT "UQ_webhook_deliveries_event" UNIQUE ("endpoint_id", "event_id"), CONSTRAINT "CHK_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed')))`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_webhook_deliveries_endpoint" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_webhook_deliveries_event" FOREIGN KEY ("event_id") REFERENCES "webhook_events"("id") ON DELETE CASCADE`,
    );
    await queryRunner.query(`CREATE INDEX "idx_webhook_deliveries_event" ON "webhook_deliveries" ("event_id")`);
    // The head of each endpoint: its lowest undelivered sequence.
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_open" ON "webhook_deliveries" ("endpoint_id", "sequence") WHERE "status" <> 'delivered'`,
    );
    await queryRunner.query(`CREATE INDEX "idx_webhook_deliveries_log" ON "webhook_deliveries" ("endpoint_id", "created_at", "id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP TABLE "webhook_events"`);
    await queryRunner.query(`DROP TABLE "webhook_endpoints"`);
  }
}
