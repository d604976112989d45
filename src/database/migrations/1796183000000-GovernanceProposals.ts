import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GOVERNANCE_SIGNER=external: each governance transaction is an unsigned proposal for the
 * multisig (`GET /v1/governance/proposals`); its transaction stays `awaiting_signature` until
 * kagi sees the proposal's effect on chain.
 */
export class GovernanceProposals1796183000000 implements MigrationInterface {
  name = 'GovernanceProposals1796183000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "governance_proposals" ("id" uuid NOT NULL, "transaction_id" uuid NOT NULL, "to_address" character varying(42) NOT NULL,
        "data" text NOT NULL, "value" numeric(78,0) NOT NULL DEFAULT '0', "chain_id" integer NOT NULL, "description" text NOT NULL,
        "status" character varying(16) NOT NULL DEFAULT 'open', "executed_block" bigint,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "executed_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "PK_governance_proposals" PRIMARY KEY ("id"),
        CONSTRAINT "UQ_governance_proposals_transaction" UNIQUE ("transaction_id"),
        CONSTRAINT "CHK_governance_proposals_status" CHECK ("status" IN ('open', 'executed')),
        CONSTRAINT "FK_governance_proposals_transaction" FOREIGN KEY ("transaction_id") REFERENCES "transactions"("id") ON DELETE CASCADE)`,
    );
    await q.query(`CREATE INDEX "idx_governance_proposals_open" ON "governance_proposals" ("created_at") WHERE status = 'open'`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "governance_proposals"`);
  }
}
