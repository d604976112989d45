/**
 * TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s) through otplib. The secret is
 * sealed with the envelope under its own purpose context, bound to the principal, and
 * stored only as ciphertext; it is shown once at enrolment and opened only to check a
 * code. Each 30-s step is accepted once (the last used step is stored). otplib takes the
 * secret as a base32 string, which JavaScript cannot wipe: the opened Buffer is zeroed,
 * the string is left to the collector.
 */
import { Injectable } from '@nestjs/common';
import { generateSecret, generateURI, verifySync } from 'otplib';
import { AuditSink } from '../audit/audit-sink';
import { AppError, ValidationError } from '../common/app-error';
import { AppConfig } from '../config/app-config';
import { Envelope } from '../kms/envelope';
import { AuthRepository } from './auth.repository';
import { actorOf, firmOf, type Principal } from '../common/principal';

const PERIOD = 30;
/** One step either side for clock drift. */
const TOLERANCE_SECONDS = 30;

const totpContext = (principalId: string) => ({ purpose: 'totp-secret', principalId });

@Injectable()
export class TotpService {
  constructor(
    private readonly repo: AuthRepository,
    private readonly envelope: Envelope,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  /** Whether MFA_REQUIRED_FOR names this principal. API keys never enrol. */
  mfaRequired(p: Pick<Principal, 'type' | 'roles' | 'via'>): boolean {
    if (p.via === 'api-key') return false;
    const list = this.config.controls.mfaRequiredFor;
    if (p.type === 'admin') return list.includes('admin');
    return (p.roles ?? []).some((r) => r !== 'viewer' && (list as readonly string[]).includes(r));
  }

  async enrol(p: Principal, otp: string | undefined, requestId?: string): Promise<{ secret: string; otpauthUri: string }> {
    this.humanOnly(p);
    const row = await this.repo.byId(p.id);
    if (!row) throw new AppError('UNAUTHENTICATED');
    if (row.totp_enabled) {
      if (!otp) throw new AppError('MFA_REQUIRED', 'TOTP is on: re-enrolling needs a current otp');
      if (!(await this.check(p.id, otp))) throw new AppError('INVALID_CREDENTIALS', 'The one-time code is wrong');
    }
    const secret = generateSecret({ length: 20 });
    const plain = Buffer.from(secret, 'utf8');
    try {
      await this.repo.setPendingTotp(p.id, await this.envelope.seal(plain, totpContext(p.id)));
    } finally {
      plain.fill(0);
    }
    await this.audit.record({
      actor: actorOf(p),
      operatorId: firmOf(p) ?? null,
      action: 'auth.totp.enrol',
      subject: { type: p.type, id: p.id },
      outcome: 'success',
      requestId,
    });
    return {
      secret,
      otpauthUri: generateURI({ issuer: 'kagi', label: row.login_id, secret, period: PERIOD, digits: 6, algorithm: 'sha1' }),
    };
  }

  async confirm(p: Principal, code: string, requestId?: string): Promise<void> {
    this.humanOnly(p);
    const pending = await this.repo.totpSealed(p.id, 'pending');
    const step = pending ? await this.verifySealed(p.id, pending.sealed, code) : undefined;
    if (step === undefined)
      throw new ValidationError([{ field: 'code', message: 'code is not a current one-time code of the enrolled secret' }]);
    await this.repo.transaction(async (em) => {
      await this.repo.activatePendingTotp(em, p.id, step);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firmOf(p) ?? null,
          action: 'auth.totp.confirm',
          subject: { type: p.type, id: p.id },
          outcome: 'success',
          requestId,
        },
        em,
      );
    });
  }

  async disable(p: Principal, otp: string, requestId?: string): Promise<void> {
    this.humanOnly(p);
    if (this.mfaRequired(p)) throw new AppError('FORBIDDEN', 'MFA is required for this principal: TOTP cannot be turned off');
    if (!(await this.check(p.id, otp))) throw new AppError('INVALID_CREDENTIALS', 'The one-time code is wrong');
    await this.repo.transaction(async (em) => {
      await this.repo.clearTotp(em, p.id);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firmOf(p) ?? null,
          action: 'auth.totp.disable',
          subject: { type: p.type, id: p.id },
          outcome: 'success',
          requestId,
        },
        em,
      );
    });
  }

  /** Checks a code against the active secret and uses its step: true once per step. */
  async check(principalId: string, code: string): Promise<boolean> {
    const active = await this.repo.totpSealed(principalId, 'active');
    if (!active) return false;
    const step = await this.verifySealed(principalId, active.sealed, code);
    return step !== undefined && (await this.repo.useTotpStep(principalId, step));
  }

  private async verifySealed(principalId: string, sealed: Parameters<Envelope['open']>[0], code: string): Promise<number | undefined> {
    if (!/^\d{6}$/.test(code)) return undefined;
    const plain = await this.envelope.open(sealed, totpContext(principalId));
    try {
      const r = verifySync({
        secret: plain.toString('utf8'),
        token: code,
        period: PERIOD,
        digits: 6,
        algorithm: 'sha1',
        epochTolerance: TOLERANCE_SECONDS,
      });
      return r.valid && 'timeStep' in r ? r.timeStep : undefined;
    } finally {
      plain.fill(0);
    }
  }

  private humanOnly(p: Principal): void {
    if (p.via === 'api-key') throw new AppError('FORBIDDEN', 'An API key has no second factor');
  }
}
