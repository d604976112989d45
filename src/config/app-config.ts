/**
 * Typed, validated configuration. `loadConfig(env)` is the only reader of the
 * environment; it throws `ConfigError` with one line naming the variable at fault.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_DEV_ADMIN_LOGIN_ID, EXAMPLE_ADMIN_PASSWORD, rawSchema, type MfaSubject } from './config.schema';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`config: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

/** Loopback host names: the only ones a plain http:// KMS endpoint (moto, LocalStack) may use. */
export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '::1' || hostname === '[::1]' || /^127\./.test(hostname);
}

export type NodeEnv = 'development' | 'test' | 'production';

/** Who holds the token contracts' admin role (API contract, "Governance and key lifecycle"). */
export type GovernanceSignerKind = 'kms' | 'external' | 'local';

export class AppConfig {
  readonly nodeEnv!: NodeEnv;
  readonly port!: number;
  readonly host!: string;
  readonly dataDir!: string;
  readonly anvilPort!: number;
  readonly databaseUrl!: string;
  /**
   * Client-side deadlines of the pool (a stopped server enforces no statement_timeout):
   * `queryTimeoutMs` per query (pg query_timeout; the server's statement_timeout is set just
   * below it, so a merely slow query is cancelled by the server first and keeps its connection),
   * `connectTimeoutMs` to open a connection or wait for a free one.
   */
  readonly database!: { queryTimeoutMs: number; connectTimeoutMs: number };
  readonly kms!: {
    provider: 'aws' | 'local';
    keyId: string;
    endpoint: string | undefined;
    region: string | undefined;
    cacheMaxAgeMs: number;
    cacheMaxUses: number;
  };
  readonly chain!: {
    rpcUrl: string;
    chainId: number | undefined;
    confirmations: number;
    /**
     * Client-side deadlines per HTTP attempt (viem retries once): `readTimeoutMs` for reads that
     * answer a request (pre-checks, GET reads, readiness: a hung node is 503 CHAIN_UNAVAILABLE in
     * about 2 × this), `pipelineTimeoutMs` for the pipeline's sends and reads (an error there
     * means "again later", so it may wait out a node that is merely slow under load).
     */
    readTimeoutMs: number;
    pipelineTimeoutMs: number;
    governanceAddress: `0x${string}` | undefined;
    /** Fee policy: EIP-1559 from the node's estimate, capped; a stuck transaction is replaced with a bump. */
    fees: { maxFeeWei: bigint; bumpPercent: number; stuckAfterSeconds: number };
  };
  /**
   * The governance signer. `kms`: an ECC_SECG_P256K1 key used through KMS Sign (`kmsKeyId`);
   * `address`, when set, pins the key's address (checked at start). `external`: `address`
   * (a multisig) signs outside kagi. `local`: a sealed key, development and tests only; the API
   * signs governance rows itself unless `ownProcess` (then `npm run governance` does, as under `kms`).
   */
  readonly governance!: {
    signer: GovernanceSignerKind;
    ownProcess: boolean;
    kmsKeyId: string | undefined;
    address: `0x${string}` | undefined;
  };
  readonly auth!: {
    jwtSigningKey: string;
    accessTokenTtlSeconds: number;
    adminLoginId: string | undefined;
    adminPassword: string | undefined;
    argon2: { memoryCost: number; timeCost: number; maxConcurrent: number };
    rateLimitPerMinute: number;
    loginRateLimitPerMinute: number;
  };
  /** Firm controls: MFA, four-eyes approvals and delayed control changes. */
  readonly controls!: {
    mfaRequiredFor: MfaSubject[];
    requireMfaForApproval: boolean;
    controlChangeDelaySeconds: number;
    approvalTtlSeconds: number;
    /** Freeze and recover need a legal basis (forced transfers always do). */
    requireLegalBasis: boolean;
    /** Platform actions (rotations, emergency unpause, issuer grants, lowering the floor) wait for a second admin. */
    platformFourEyes: boolean;
  };
  readonly mail!: { smtpUrl: string | undefined; from: string; opsRecipients: string[] };
  readonly walletHttpIssuance!: boolean;
  readonly devGasFunding!: boolean;
  readonly tls!: { certFile: string; keyFile: string } | undefined;
  readonly trustProxy!: boolean | number | string;
  readonly logLevel!: string;
  readonly docsEnabled!: boolean;
  readonly metricsEnabled!: boolean;
  readonly bodyLimit!: string;
  /** How often the heads of the audit chains are anchored on chain (when something changed). */
  readonly audit!: { anchorIntervalMs: number };
  /**
   * Webhooks: `allowPrivate` lets URLs reach loopback/private addresses (development and tests
   * only); the retry schedule (first delay, doubling, capped) and how long an endpoint may fail
   * before it is disabled are the contract's (5 s, 10 min, 24 h) except in tests.
   */
  readonly webhooks!: { allowPrivate: boolean; retryBaseMs: number; retryMaxMs: number; disableAfterMs: number };
  /** CLI --help only: build the module graph without connecting to anything. */
  readonly offline?: boolean;

  get isProduction(): boolean {
    return this.nodeEnv === 'production';
  }

  /** HTTP wallet issuance answers only in development/test and when switched on. */
  get walletHttpIssuanceActive(): boolean {
    return this.walletHttpIssuance && (this.nodeEnv === 'development' || this.nodeEnv === 'test');
  }

  static of(values: Omit<AppConfig, 'isProduction' | 'walletHttpIssuanceActive'>): AppConfig {
    return Object.assign(new AppConfig(), values);
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): AppConfig {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;

  const parsed = rawSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'configuration');
    const value = cleaned[variable];
    throw new ConfigError(variable, `${value === undefined ? 'is missing or invalid' : 'is invalid'}: ${issue?.message ?? 'invalid'}`);
  }
  const c = parsed.data;
  const prod = c.NODE_ENV === 'production';
  const devLike = !prod;
  const dataDir = isAbsolute(c.DATA_DIR) ? c.DATA_DIR : resolve(process.cwd(), c.DATA_DIR);

  const kmsProvider = c.KMS_PROVIDER ?? (devLike ? 'local' : undefined);
  if (!kmsProvider) throw new ConfigError('KMS_PROVIDER', 'is required: set KMS_PROVIDER=aws (with KMS_KEY_ID) in production');

  // Dev/test default: `local`, or `external` when GOVERNANCE_ADDRESS is set (before the signer
  // existed, that variable alone made an address the tokens' admin; it still does).
  const governanceSigner = c.GOVERNANCE_SIGNER ?? (devLike ? (c.GOVERNANCE_ADDRESS ? 'external' : 'local') : undefined);
  if (!governanceSigner)
    throw new ConfigError(
      'GOVERNANCE_SIGNER',
      'is required in production: set GOVERNANCE_SIGNER=kms (with GOVERNANCE_KMS_KEY_ID) or external (with GOVERNANCE_ADDRESS)',
    );

  if (prod) {
    if (governanceSigner === 'local')
      throw new ConfigError(
        'GOVERNANCE_SIGNER',
        '=local is refused in production: set GOVERNANCE_SIGNER=kms (with GOVERNANCE_KMS_KEY_ID) or external (with GOVERNANCE_ADDRESS)',
      );
    if (kmsProvider === 'local')
      throw new ConfigError('KMS_PROVIDER', '=local is refused in production: set KMS_PROVIDER=aws and KMS_KEY_ID');
    if (c.DEV_GAS_FUNDING) throw new ConfigError('DEV_GAS_FUNDING', 'is refused in production: unset it or set DEV_GAS_FUNDING=false');
    if (c.WALLET_HTTP_ISSUANCE)
      throw new ConfigError(
        'WALLET_HTTP_ISSUANCE',
        'is refused in production: issue wallets with the secure-room CLI and set WALLET_HTTP_ISSUANCE=false',
      );
    if (!c.JWT_SIGNING_KEY)
      throw new ConfigError('JWT_SIGNING_KEY', 'is required in production: set a random secret of at least 32 characters');
    if (c.CHAIN_ID === undefined) throw new ConfigError('CHAIN_ID', 'is required in production: set the chain id of CHAIN_RPC_URL');
    if (!c.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'is required in production: set a postgres:// URL');
    if (!c.CHAIN_RPC_URL) throw new ConfigError('CHAIN_RPC_URL', 'is required in production: set the JSON-RPC URL of the chain');
    if (!c.SMTP_URL)
      throw new ConfigError('SMTP_URL', 'is required in production: activation codes and login ids reach people only by e-mail');
    if (c.CONTROL_CHANGE_DELAY === 0)
      throw new ConfigError(
        'CONTROL_CHANGE_DELAY',
        '=0 is refused in production: a firm with one firm-admin must not weaken its controls at once (default 24h)',
      );
    if (c.APPROVAL_TTL < 60) throw new ConfigError('APPROVAL_TTL', 'must be at least 1 minute in production (default 24h)');
    if (c.MFA_REQUIRED_FOR && !c.MFA_REQUIRED_FOR.includes('admin'))
      throw new ConfigError('MFA_REQUIRED_FOR', 'must include admin in production (default admin,firm-admin,checker)');
    if (c.PLATFORM_ADMIN_PASSWORD === EXAMPLE_ADMIN_PASSWORD)
      throw new ConfigError('PLATFORM_ADMIN_PASSWORD', 'is the example password from .env.example, refused in production: choose another');
    if (c.WEBHOOK_ALLOW_PRIVATE)
      throw new ConfigError('WEBHOOK_ALLOW_PRIVATE', 'is refused in production: webhook URLs must not reach loopback or private addresses');
    for (const v of ['WEBHOOK_RETRY_BASE', 'WEBHOOK_DISABLE_AFTER'] as const)
      if (c[v] !== undefined) throw new ConfigError(v, 'is a test-only setting, refused in production: unset it');
  }
  if (!c.DATABASE_URL) throw new ConfigError('DATABASE_URL', 'is missing: set a postgres:// URL (npm run dev sets the embedded one)');
  if ((c.TLS_CERT_FILE === undefined) !== (c.TLS_KEY_FILE === undefined))
    throw new ConfigError(
      c.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE',
      'is missing: set both TLS_CERT_FILE and TLS_KEY_FILE, or neither',
    );
  for (const v of ['TLS_CERT_FILE', 'TLS_KEY_FILE'] as const) {
    const f = c[v];
    if (f !== undefined && !existsSync(f)) throw new ConfigError(v, `points to a file that does not exist: ${f}`);
  }
  if (governanceSigner === 'kms' && !c.GOVERNANCE_KMS_KEY_ID)
    throw new ConfigError(
      'GOVERNANCE_KMS_KEY_ID',
      'is required with GOVERNANCE_SIGNER=kms: set the id, ARN or alias of an ECC_SECG_P256K1 SIGN_VERIFY key',
    );
  if (governanceSigner !== 'kms' && c.GOVERNANCE_KMS_KEY_ID)
    throw new ConfigError(
      'GOVERNANCE_KMS_KEY_ID',
      `is set but GOVERNANCE_SIGNER is ${governanceSigner}: unset it or set GOVERNANCE_SIGNER=kms`,
    );
  if (governanceSigner === 'external' && !c.GOVERNANCE_ADDRESS)
    throw new ConfigError(
      'GOVERNANCE_ADDRESS',
      'is required with GOVERNANCE_SIGNER=external: set the checksummed address that signs (e.g. a multisig)',
    );
  if (governanceSigner === 'local' && c.GOVERNANCE_ADDRESS)
    throw new ConfigError(
      'GOVERNANCE_ADDRESS',
      'is set with GOVERNANCE_SIGNER=local, whose address is its sealed key: unset it or set GOVERNANCE_SIGNER=external',
    );
  if (c.KMS_ENDPOINT) {
    const u = new URL(c.KMS_ENDPOINT);
    if (u.protocol === 'http:' && !isLoopback(u.hostname))
      throw new ConfigError('KMS_ENDPOINT', 'uses plain http:// to a non-loopback host: use https://');
  }

  return AppConfig.of({
    nodeEnv: c.NODE_ENV,
    port: c.PORT,
    host: c.HOST,
    dataDir,
    anvilPort: c.ANVIL_PORT,
    databaseUrl: c.DATABASE_URL,
    database: { queryTimeoutMs: c.DATABASE_QUERY_TIMEOUT, connectTimeoutMs: c.DATABASE_CONNECT_TIMEOUT },
    kms: {
      provider: kmsProvider,
      keyId: c.KMS_KEY_ID,
      endpoint: c.KMS_ENDPOINT,
      region: c.AWS_REGION,
      cacheMaxAgeMs: c.KMS_DATA_KEY_CACHE_MAX_AGE_MS,
      cacheMaxUses: c.KMS_DATA_KEY_CACHE_MAX_USES,
    },
    chain: {
      rpcUrl: c.CHAIN_RPC_URL ?? `http://127.0.0.1:${c.ANVIL_PORT}`,
      chainId: c.CHAIN_ID,
      confirmations: c.CHAIN_CONFIRMATIONS,
      readTimeoutMs: c.CHAIN_READ_TIMEOUT,
      pipelineTimeoutMs: c.CHAIN_PIPELINE_TIMEOUT,
      governanceAddress: c.GOVERNANCE_ADDRESS,
      fees: {
        maxFeeWei: BigInt(Math.round(c.FEE_MAX_GWEI * 1e9)),
        bumpPercent: c.FEE_BUMP_PERCENT,
        stuckAfterSeconds: c.TX_STUCK_AFTER_SECONDS,
      },
    },
    governance: {
      signer: governanceSigner,
      ownProcess: governanceSigner !== 'local' || c.GOVERNANCE_OWN_PROCESS,
      kmsKeyId: c.GOVERNANCE_KMS_KEY_ID,
      address: c.GOVERNANCE_ADDRESS,
    },
    auth: {
      jwtSigningKey: c.JWT_SIGNING_KEY ?? devJwtKey(dataDir),
      accessTokenTtlSeconds: c.ACCESS_TOKEN_TTL,
      adminLoginId: c.PLATFORM_ADMIN_LOGIN_ID ?? (devLike ? DEFAULT_DEV_ADMIN_LOGIN_ID : undefined),
      adminPassword: c.PLATFORM_ADMIN_PASSWORD ?? (devLike ? EXAMPLE_ADMIN_PASSWORD : undefined),
      argon2: { memoryCost: c.ARGON2_MEMORY_KIB, timeCost: c.ARGON2_ITERATIONS, maxConcurrent: c.ARGON2_MAX_CONCURRENT },
      rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
      loginRateLimitPerMinute: c.LOGIN_RATE_LIMIT_PER_MINUTE,
    },
    controls: {
      mfaRequiredFor: c.MFA_REQUIRED_FOR ?? (prod ? ['admin', 'firm-admin', 'checker'] : []),
      requireMfaForApproval: c.REQUIRE_MFA_FOR_APPROVAL ?? prod,
      controlChangeDelaySeconds: c.CONTROL_CHANGE_DELAY ?? (prod ? 86_400 : 0),
      approvalTtlSeconds: c.APPROVAL_TTL,
      requireLegalBasis: c.REQUIRE_LEGAL_BASIS ?? prod,
      platformFourEyes: c.PLATFORM_FOUR_EYES ?? prod,
    },
    mail: { smtpUrl: c.SMTP_URL, from: c.SMTP_FROM, opsRecipients: c.OPS_NOTIFY_EMAILS },
    walletHttpIssuance: c.WALLET_HTTP_ISSUANCE,
    devGasFunding: c.DEV_GAS_FUNDING,
    tls: c.TLS_CERT_FILE && c.TLS_KEY_FILE ? { certFile: c.TLS_CERT_FILE, keyFile: c.TLS_KEY_FILE } : undefined,
    trustProxy: c.TRUST_PROXY,
    logLevel: c.LOG_LEVEL,
    docsEnabled: c.DOCS_ENABLED,
    metricsEnabled: c.METRICS_ENABLED,
    bodyLimit: c.BODY_LIMIT,
    audit: { anchorIntervalMs: c.AUDIT_ANCHOR_INTERVAL },
    webhooks: {
      allowPrivate: c.WEBHOOK_ALLOW_PRIVATE ?? devLike,
      retryBaseMs: c.WEBHOOK_RETRY_BASE ?? 5_000,
      retryMaxMs: 600_000,
      disableAfterMs: c.WEBHOOK_DISABLE_AFTER ?? 86_400_000,
    },
  });
}

/** Development only: a random JWT key kept under DATA_DIR so tokens survive a restart. */
function devJwtKey(dataDir: string): string {
  const file = join(dataDir, 'jwt-signing-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(48).toString('base64url');
  writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/** For `cli --help`: a configuration that lets the module graph build with no database. */
export function loadOfflineConfig(): AppConfig {
  const c = loadConfig({
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: 'postgres://offline@127.0.0.1:1/offline',
    KMS_PROVIDER: 'local',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-cli-help-')),
    LOG_LEVEL: 'silent',
  });
  return Object.assign(c, { offline: true });
}

/**
 * Development convenience: `npm run dev` writes DATA_DIR/dev.env (DATABASE_URL,
 * CHAIN_RPC_URL of the embedded services) so the CLI on the same machine finds them.
 * Never read in production.
 */
export function loadDevEnvFile(): void {
  if (process.env.NODE_ENV === 'production' || process.env.DATABASE_URL) return;
  const dataDir = resolve(process.cwd(), process.env.DATA_DIR ?? '.data');
  const file = join(dataDir, 'dev.env');
  if (existsSync(file)) process.loadEnvFile(file);
  process.env.NODE_ENV ??= 'development';
}

/** The terminal multiplexer the CLI runs in, if any (its scrollback may keep what is shown). */
export function terminalMultiplexer(): string | undefined {
  if (process.env.TMUX) return 'tmux';
  if (process.env.STY) return 'screen';
  return undefined;
}
