import type { MigrationInterface, QueryRunner } from 'typeorm';

const ROLE = 'kagi_secure_room';
const READ = ['principals', 'operators', 'users', 'login_failures', 'migrations', 'wallet_media'];
const APPEND = ['audit_events', 'wallet_media', 'notifications', 'mail_outbox', 'login_failures', 'jobs'];
const USER_WALLET_COLUMNS = ['wallet_address', 'wallet_issued_at', 'previous_wallet_addresses'];

/**
 * The secure-room database role (NOLOGIN group role `kagi_secure_room`): what the
 * wallet:issue CLI needs and nothing more. It reads the admin's login, the user and the
 * migration state; appends audit events, media rows and notices (notifications and the
 * mail outbox, which the API sends); keeps the login-failure counter (insert, delete);
 * and may update only the wallet columns of users. It cannot read keys, tokens or
 * transactions, cannot touch other columns and cannot record custody events (those are
 * HTTP, by an admin). Ops give the secure-room terminal a login role in it:
 *   CREATE ROLE secure_room LOGIN PASSWORD '…' IN ROLE kagi_secure_room;
 * Idempotent (the role is cluster-wide and may already exist); where the migrating user
 * may not create roles, it says so in a NOTICE and grants nothing (the API still works).
 * down() revokes every grant of this database and leaves the role, which other
 * databases of the cluster may use.
 */
export class SecureRoomRole1796155600000 implements MigrationInterface {
  name = 'SecureRoomRole1796155600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
    BEGIN
      CREATE ROLE ${ROLE} NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL; -- created meanwhile by another database's migration
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'kagi: cannot create role ${ROLE} (no CREATEROLE): the secure room has no restricted role; see README "Secure room"';
        RETURN;
    END;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${ROLE}', current_schema());
  GRANT SELECT ON ${READ.join(', ')} TO ${ROLE};
  GRANT INSERT ON ${APPEND.join(', ')} TO ${ROLE};
  GRANT DELETE ON login_failures TO ${ROLE};
  GRANT UPDATE (${USER_WALLET_COLUMNS.join(', ')}) ON users TO ${ROLE};
  -- INSERT … RETURNING of the generated columns only, not the notices' text.
  GRANT SELECT (id, created_at) ON notifications TO ${ROLE};
  GRANT SELECT (id, attempts, created_at) ON mail_outbox TO ${ROLE};
  -- A reissue writes the lost-wallet freeze and the ops mail as jobs (enqueue reads back the ids).
  GRANT SELECT (id, singleton_key, state) ON jobs TO ${ROLE};
END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
    REVOKE UPDATE (${USER_WALLET_COLUMNS.join(', ')}) ON users FROM ${ROLE};
    REVOKE ALL ON ${[...new Set([...READ, ...APPEND])].join(', ')} FROM ${ROLE};
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM ${ROLE}', current_schema());
  END IF;
END $$`);
  }
}
