import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read state per reader: notification_reads replaces the one shared notifications.read_at.
 * Who set an old shared mark is not known, so old marks are not carried over (those
 * notifications show as unread once); down() folds the earliest mark back into read_at.
 */
export class NotificationReads1796170000001 implements MigrationInterface {
  name = 'NotificationReads1796170000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "notification_reads" ("notification_id" uuid NOT NULL, "reader_type" character varying(16) NOT NULL, "reader_id" character varying(64) NOT NULL, "read_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_4cdc5154f488f1cb373ae8916a2" PRIMARY KEY ("notification_id", "reader_type", "reader_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_notification_reads_reader" ON "notification_reads" ("reader_type", "reader_id") `);
    await queryRunner.query(
      `ALTER TABLE "notification_reads" ADD CONSTRAINT "FK_30122217fe6ea5e114793efd4d5" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(`ALTER TABLE "notifications" DROP COLUMN "read_at"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" ADD "read_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `UPDATE "notifications" n SET "read_at" = r.first FROM (SELECT notification_id, min(read_at) AS first FROM "notification_reads" GROUP BY notification_id) r WHERE r.notification_id = n.id`,
    );
    await queryRunner.query(`ALTER TABLE "notification_reads" DROP CONSTRAINT "FK_30122217fe6ea5e114793efd4d5"`);
    await queryRunner.query(`DROP INDEX "public"."idx_notification_reads_reader"`);
    await queryRunner.query(`DROP TABLE "notification_reads"`);
  }
}
