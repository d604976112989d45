import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config';
import { EXAMPLE_ADMIN_PASSWORD } from './config.schema';

/** A checksummed address (EIP-55), as a multisig's would be configured. */
const MULTISIG = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

const dataDir = () => mkdtempSync(join(tmpdir(), 'kagi-config-spec-'));

const production = (over: Record<string, string | undefined> = {}) => ({
  NODE_ENV: 'production',
  DATA_DIR: dataDir(),
  DATABASE_URL: 'postgres://kagi:secret@db.internal:5432/kagi',
  KMS_PROVIDER: 'aws',
  KMS_KEY_ID: 'alias/kagi',
  CHAIN_RPC_URL: 'https://rpc.example.com',
  CHAIN_ID: '1',
  JWT_SIGNING_KEY: 'x'.repeat(48),
  PLATFORM_ADMIN_LOGIN_ID: 'platform-admin',
  PLATFORM_ADMIN_PASSWORD: 'a-real-production-password',
  GOVERNANCE_SIGNER: 'kms',
  GOVERNANCE_KMS_KEY_ID: 'alias/kagi-governance',
  SMTP_URL: 'smtps://mail.example.com:465',
  ...over,
});

function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('accepts a complete production configuration', () => {
    const c = loadConfig(production());
    expect(c.isProduction).toBe(true);
    expect(c.kms.provider).toBe('aws');
    expect(c.walletHttpIssuanceActive).toBe(false);
    expect(c.auth.accessTokenTtlSeconds).toBe(900);
  });

  it.each([
    ['KMS_PROVIDER', { KMS_PROVIDER: 'local' }],
    ['DEV_GAS_FUNDING', { DEV_GAS_FUNDING: 'true' }],
    ['WALLET_HTTP_ISSUANCE', { WALLET_HTTP_ISSUANCE: 'true' }],
    ['WEBHOOK_ALLOW_PRIVATE', { WEBHOOK_ALLOW_PRIVATE: 'true' }],
    ['WEBHOOK_RETRY_BASE', { WEBHOOK_RETRY_BASE: '1s' }],
    ['WEBHOOK_DISABLE_AFTER', { WEBHOOK_DISABLE_AFTER: '10s' }],
    ['JWT_SIGNING_KEY', { JWT_SIGNING_KEY: undefined }],
    ['CHAIN_ID', { CHAIN_ID: undefined }],
    ['PLATFORM_ADMIN_PASSWORD', { PLATFORM_ADMIN_PASSWORD: EXAMPLE_ADMIN_PASSWORD }],
    ['DATABASE_URL', { DATABASE_URL: undefined }],
    ['SMTP_URL', { SMTP_URL: undefined }],
    ['KMS_PROVIDER', { KMS_PROVIDER: undefined }],
    ['GOVERNANCE_SIGNER', { GOVERNANCE_SIGNER: 'local', GOVERNANCE_KMS_KEY_ID: undefined }],
    ['GOVERNANCE_SIGNER', { GOVERNANCE_SIGNER: undefined, GOVERNANCE_KMS_KEY_ID: undefined }],
    ['GOVERNANCE_SIGNER', { GOVERNANCE_SIGNER: undefined, GOVERNANCE_KMS_KEY_ID: undefined, GOVERNANCE_ADDRESS: MULTISIG }],
  ])('refuses unsafe production setting %s with one line naming it', (variable, over) => {
    const e = refusal(production(over));
    expect(e.variable).toBe(variable);
    expect(e.message).toMatch(new RegExp(`^config: ${variable}`));
    expect(e.message).not.toContain('\n');
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['CHAIN_CONFIRMATIONS', { CHAIN_CONFIRMATIONS: '0' }],
    ['ACCESS_TOKEN_TTL', { ACCESS_TOKEN_TTL: 'forever' }],
    ['KMS_PROVIDER', { KMS_PROVIDER: 'vault' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['OPS_NOTIFY_EMAILS', { OPS_NOTIFY_EMAILS: 'ops@example.com,not-an-address' }],
    ['GOVERNANCE_ADDRESS', { GOVERNANCE_ADDRESS: '0x123' }],
    ['GOVERNANCE_ADDRESS', { GOVERNANCE_ADDRESS: MULTISIG.toLowerCase() }],
    ['GOVERNANCE_ADDRESS', { GOVERNANCE_ADDRESS: MULTISIG.slice(0, 41) + (MULTISIG.endsWith('a') ? 'b' : 'a') }],
    ['GOVERNANCE_ADDRESS', { GOVERNANCE_ADDRESS: `0x${'0'.repeat(40)}` }],
    ['GOVERNANCE_SIGNER', { GOVERNANCE_SIGNER: 'vault' }],
    ['GOVERNANCE_KMS_KEY_ID', { GOVERNANCE_KMS_KEY_ID: undefined }],
    ['GOVERNANCE_ADDRESS', { GOVERNANCE_SIGNER: 'external', GOVERNANCE_KMS_KEY_ID: undefined }],
    ['GOVERNANCE_KMS_KEY_ID', { GOVERNANCE_SIGNER: 'external', GOVERNANCE_ADDRESS: MULTISIG }],
    ['TLS_KEY_FILE', { TLS_CERT_FILE: '/etc/hosts' }],
    ['KMS_ENDPOINT', { KMS_ENDPOINT: 'http://kms.example.com' }],
  ])('names %s when its value is bad', (variable, over) => {
    expect(refusal(production(over)).variable).toBe(variable);
  });

  it('reads each governance signer with what it needs', () => {
    const kms = loadConfig(production());
    expect(kms.governance).toEqual({ signer: 'kms', ownProcess: true, kmsKeyId: 'alias/kagi-governance', address: undefined });
    const pinned = loadConfig(production({ GOVERNANCE_ADDRESS: MULTISIG }));
    expect(pinned.governance.address).toBe(MULTISIG);
    const external = loadConfig(
      production({ GOVERNANCE_SIGNER: 'external', GOVERNANCE_KMS_KEY_ID: undefined, GOVERNANCE_ADDRESS: MULTISIG }),
    );
    expect(external.governance).toEqual({ signer: 'external', ownProcess: true, kmsKeyId: undefined, address: MULTISIG });
    // Tokens keep using GOVERNANCE_ADDRESS as their admin when it is set.
    expect(external.chain.governanceAddress).toBe(MULTISIG);
  });

  it('defaults the governance signer to local in development and test, external when GOVERNANCE_ADDRESS is set', () => {
    const base = { DATA_DIR: dataDir(), DATABASE_URL: 'postgres://localhost/kagi' };
    expect(loadConfig({ ...base, NODE_ENV: 'development' }).governance.signer).toBe('local');
    expect(loadConfig({ ...base, NODE_ENV: 'test' }).governance.signer).toBe('local');
    // Under local the API signs governance rows unless told a governance process does (npm run dev).
    expect(loadConfig({ ...base, NODE_ENV: 'test' }).governance.ownProcess).toBe(false);
    expect(loadConfig({ ...base, NODE_ENV: 'development', GOVERNANCE_OWN_PROCESS: 'true' }).governance.ownProcess).toBe(true);
    const ext = loadConfig({ ...base, NODE_ENV: 'development', GOVERNANCE_ADDRESS: MULTISIG });
    expect(ext.governance).toEqual({ signer: 'external', ownProcess: true, kmsKeyId: undefined, address: MULTISIG });
    const e = refusal({ ...base, NODE_ENV: 'development', GOVERNANCE_SIGNER: 'local', GOVERNANCE_ADDRESS: MULTISIG });
    expect(e.variable).toBe('GOVERNANCE_ADDRESS');
    expect(refusal({ ...base, NODE_ENV: 'test', GOVERNANCE_SIGNER: 'kms' }).variable).toBe('GOVERNANCE_KMS_KEY_ID');
  });

  it('does not echo a secret value in the error line', () => {
    const e = refusal(production({ JWT_SIGNING_KEY: 'short-secret-value' }));
    expect(e.variable).toBe('JWT_SIGNING_KEY');
    expect(e.message).not.toContain('short-secret-value');
  });

  it('uses the embedded defaults in development and generates a persistent JWT key', () => {
    const dir = dataDir();
    const a = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir, DATABASE_URL: 'postgres://localhost/kagi' });
    expect(a.kms.provider).toBe('local');
    expect(a.chain.rpcUrl).toBe('http://127.0.0.1:8545');
    expect(a.auth.jwtSigningKey.length).toBeGreaterThanOrEqual(32);
    const b = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir, DATABASE_URL: 'postgres://localhost/kagi' });
    expect(b.auth.jwtSigningKey).toBe(a.auth.jwtSigningKey);
  });

  it('allows loopback http KMS endpoints (moto, LocalStack)', () => {
    const c = loadConfig(production({ KMS_ENDPOINT: 'http://127.0.0.1:4566' }));
    expect(c.kms.endpoint).toBe('http://127.0.0.1:4566');
  });

  it('parses durations', () => {
    expect(loadConfig(production({ ACCESS_TOKEN_TTL: '15m' })).auth.accessTokenTtlSeconds).toBe(900);
    expect(loadConfig(production({ ACCESS_TOKEN_TTL: '1h' })).auth.accessTokenTtlSeconds).toBe(3600);
  });

  it('reads AUDIT_ANCHOR_INTERVAL (default 60 s) and names it when it is bad', () => {
    expect(loadConfig(production()).audit.anchorIntervalMs).toBe(60_000);
    expect(loadConfig(production({ AUDIT_ANCHOR_INTERVAL: '5m' })).audit.anchorIntervalMs).toBe(300_000);
    expect(loadConfig(production({ AUDIT_ANCHOR_INTERVAL: '1s' })).audit.anchorIntervalMs).toBe(1000);
    expect(refusal(production({ AUDIT_ANCHOR_INTERVAL: 'often' })).variable).toBe('AUDIT_ANCHOR_INTERVAL');
    expect(refusal(production({ AUDIT_ANCHOR_INTERVAL: '10ms' })).variable).toBe('AUDIT_ANCHOR_INTERVAL');
  });

  it('firm controls: production defaults, development defaults, and the production refusals', () => {
    expect(loadConfig(production()).controls).toEqual({
      mfaRequiredFor: ['admin', 'firm-admin', 'checker'],
      requireMfaForApproval: true,
      controlChangeDelaySeconds: 86_400,
      approvalTtlSeconds: 86_400,
      requireLegalBasis: true,
      platformFourEyes: true,
    });
    const dev = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir(), DATABASE_URL: 'postgres://k@127.0.0.1/k' });
    expect(dev.controls).toEqual({
      mfaRequiredFor: [],
      requireMfaForApproval: false,
      controlChangeDelaySeconds: 0,
      approvalTtlSeconds: 86_400,
      requireLegalBasis: false,
      platformFourEyes: false,
    });
    expect(
      loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir(), DATABASE_URL: 'postgres://k@127.0.0.1/k', APPROVAL_TTL: '3s' }).controls,
    ).toMatchObject({ approvalTtlSeconds: 3 });
    expect(loadConfig(production({ REQUIRE_LEGAL_BASIS: 'false' })).controls.requireLegalBasis).toBe(false);
    expect(
      loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir(), DATABASE_URL: 'postgres://k@127.0.0.1/k', PLATFORM_FOUR_EYES: 'true' }).controls
        .platformFourEyes,
    ).toBe(true);
    expect(refusal(production({ PLATFORM_FOUR_EYES: 'maybe' })).variable).toBe('PLATFORM_FOUR_EYES');
    expect(loadConfig(production({ CONTROL_CHANGE_DELAY: '2h', MFA_REQUIRED_FOR: 'admin,maker' })).controls).toMatchObject({
      controlChangeDelaySeconds: 7200,
      mfaRequiredFor: ['admin', 'maker'],
    });
    expect(refusal(production({ CONTROL_CHANGE_DELAY: '0' })).message).toMatch(/^config: CONTROL_CHANGE_DELAY =0 is refused in production/);
    expect(refusal(production({ MFA_REQUIRED_FOR: 'firm-admin' })).variable).toBe('MFA_REQUIRED_FOR');
    expect(refusal(production({ MFA_REQUIRED_FOR: 'admin,root' })).variable).toBe('MFA_REQUIRED_FOR');
    expect(refusal(production({ APPROVAL_TTL: '10s' })).variable).toBe('APPROVAL_TTL');
  });
  it('client-side deadlines of the hung-dependency handling: defaults, units, bounds', () => {
    const d = loadConfig(production());
    expect(d.chain).toMatchObject({ readTimeoutMs: 1_000, pipelineTimeoutMs: 10_000 });
    expect(d.database).toEqual({ queryTimeoutMs: 8_000, connectTimeoutMs: 5_000 });
    const c = loadConfig(
      production({
        CHAIN_READ_TIMEOUT: '900ms',
        CHAIN_PIPELINE_TIMEOUT: '20s',
        DATABASE_QUERY_TIMEOUT: '5',
        DATABASE_CONNECT_TIMEOUT: '1m',
      }),
    );
    expect(c.chain).toMatchObject({ readTimeoutMs: 900, pipelineTimeoutMs: 20_000 });
    expect(c.database).toEqual({ queryTimeoutMs: 5_000, connectTimeoutMs: 60_000 });
    expect(refusal(production({ CHAIN_READ_TIMEOUT: '50ms' })).variable).toBe('CHAIN_READ_TIMEOUT');
    expect(refusal(production({ DATABASE_QUERY_TIMEOUT: '10m' })).variable).toBe('DATABASE_QUERY_TIMEOUT');
    expect(refusal(production({ DATABASE_CONNECT_TIMEOUT: 'soon' })).variable).toBe('DATABASE_CONNECT_TIMEOUT');
  });
});
