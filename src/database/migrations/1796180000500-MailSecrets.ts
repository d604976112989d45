import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Mail to one person may carry a secret (an activation code): sealed with the envelope, never in clear, cleared once sent. */
export class MailSecrets1796180000500 implements MigrationInterface {
  name = 'MailSecrets1796180000500';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "mail_outbox" ADD "secret_encrypted" bytea, ADD "secret_data_key" bytea, ADD "secret_kms_key_id" character varying(2048)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "mail_outbox" DROP COLUMN "secret_kms_key_id", DROP COLUMN "secret_data_key", DROP COLUMN "secret_encrypted"`,
    );
  }
}
