import type { MigrationInterface, QueryRunner } from 'typeorm';

const ROLE = 'kagi_secure_room';

/**
 * A wallet issued in the secure room is a `wallet.issued` / `wallet.reissued` webhook event,
 * written in the issuance's transaction: the secure-room role may append events and read, of
 * the endpoints, only which firm subscribes to which types (never URLs or sealed secrets).
 */
export class SecureRoomWebhookEvents1796182000000 implements MigrationInterface {
  name = 'SecureRoomWebhookEvents1796182000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
    GRANT INSERT ON webhook_events TO ${ROLE};
    GRANT SELECT (id) ON webhook_events TO ${ROLE};
    GRANT SELECT (operator_id, events) ON webhook_endpoints TO ${ROLE};
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'kagi: cannot grant ${ROLE} the webhook events (no privilege)';
END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
    REVOKE ALL ON webhook_events, webhook_endpoints FROM ${ROLE};
  END IF;
END $$`);
  }
}
