import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Users1795552397498 implements MigrationInterface {
  name = 'Users1795552397498';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "mail_outbox" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "notification_id" uuid, "recipients" text NOT NULL, "subject" character varying(300) NOT NULL, "body" text NOT NULL, "attempts" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "sent_at" TIMESTAMP WITH TIME ZONE, "last_error" character varying(500), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_fecc63c96385bc35a39ccf2a72e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_mail_outbox_due" ON "mail_outbox" ("sent_at", "next_attempt_at") `);
    await queryRunner.query(
      `CREATE TABLE "notifications" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "kind" character varying(64) NOT NULL, "operator_id" uuid, "subject" character varying(300) NOT NULL, "body" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "read_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_6a72c3c0f683f6462415e653c3a" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_notifications_operator_created" ON "notifications" ("operator_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_notifications_created" ON "notifications" ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "users" ("id" uuid NOT NULL, "operator_id" uuid NOT NULL, "name" character varying(200) NOT NULL, "email" character varying(254) NOT NULL, "external_ref" character varying(64), "wallet_address" character varying(42), "previous_wallet_addresses" character varying(42) array NOT NULL, "wallet_issued_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_users_wallet_address" ON "users" ("wallet_address") `);
    await queryRunner.query(`CREATE INDEX "idx_users_created" ON "users" ("created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_users_operator_created" ON "users" ("operator_id", "created_at", "id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_users_operator_external_ref" ON "users" ("operator_id", "external_ref") `);
    await queryRunner.query(
      `ALTER TABLE "users" ADD CONSTRAINT "FK_139fd30cb7d6889b3478b50cc6a" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "FK_139fd30cb7d6889b3478b50cc6a"`);
    await queryRunner.query(`DROP INDEX "public"."uq_users_operator_external_ref"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_operator_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_wallet_address"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP INDEX "public"."idx_notifications_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_notifications_operator_created"`);
    await queryRunner.query(`DROP TABLE "notifications"`);
    await queryRunner.query(`DROP INDEX "public"."idx_mail_outbox_due"`);
    await queryRunner.query(`DROP TABLE "mail_outbox"`);
  }
}
