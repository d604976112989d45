import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Mail is sent by `mail.send` jobs now: every unsent outbox row gets its job (the old poll loop is gone). */
export class MailOutboxJobs1796170000100 implements MigrationInterface {
  name = 'MailOutboxJobs1796170000100';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `INSERT INTO "jobs" ("type", "payload", "max_attempts")
       SELECT 'mail.send', jsonb_build_object('outboxId', "id"), 2000 FROM "mail_outbox" WHERE "sent_at" IS NULL ORDER BY "created_at"`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "jobs" WHERE "type" = 'mail.send' AND "state" IN ('pending', 'failed')`);
  }
}
