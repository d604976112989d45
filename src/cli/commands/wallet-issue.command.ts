import { accessSync, constants as fsc, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommandRunner, Option } from 'nest-commander';
import QRCode from 'qrcode';
import { AuthService } from '../../auth/auth.service';
import { terminalMultiplexer } from '../../config/app-config';
import { WalletIssuanceService } from '../../users/wallet-issuance.service';
import { ask } from '../prompt';

interface Options {
  user?: string;
  out?: string;
  display?: boolean;
  reissue?: boolean;
  reason?: string;
}

/**
 * Secure-room wallet issuance (the production path). Asks for an admin login and
 * records that admin as the actor. `--out <dir>` writes `<userId>-<address>.pdf` (0600)
 * and only then commits the address; `--display` shows the key once on the alternate
 * screen and writes nothing.
 */
@Command({ name: 'wallet:issue', description: "Issue an investor's cold wallet to removable media (--out) or the screen (--display)" })
export class WalletIssueCommand extends CommandRunner {
  constructor(
    private readonly wallets: WalletIssuanceService,
    private readonly auth: AuthService,
  ) {
    super();
  }

  @Option({ flags: '--user <id>', description: 'user (investor) id', required: true })
  parseUser(v: string): string {
    return v;
  }

  @Option({ flags: '--out <dir>', description: 'directory on removable media for the PDF' })
  parseOut(v: string): string {
    return v;
  }

  @Option({ flags: '--display', description: 'show the key once on screen instead; writes nothing' })
  parseDisplay(): boolean {
    return true;
  }

  @Option({ flags: '--reissue', description: 'replace a lost wallet (needs --reason)' })
  parseReissue(): boolean {
    return true;
  }

  @Option({ flags: '--reason <text>', description: 'why the wallet is reissued' })
  parseReason(v: string): string {
    return v;
  }

  async run(_args: string[], o: Options): Promise<void> {
    if (!o.user) throw new Error('--user is required');
    if (!!o.out === !!o.display) throw new Error('choose exactly one of --out <dir> or --display');
    if (o.reissue && !o.reason) throw new Error('--reissue needs --reason');
    const outDir = o.out ? resolve(o.out) : undefined;
    if (outDir) {
      // Refused before any key exists.
      let ok: boolean;
      try {
        ok = statSync(outDir).isDirectory();
        accessSync(outDir, fsc.W_OK);
      } catch {
        ok = false;
      }
      if (!ok) throw new Error(`--out ${outDir} is not a writable directory; nothing was issued`);
    }
    const loginId = await ask('admin login id: ');
    const password = await ask('admin password: ', { secret: true });
    const admin = await this.auth.verifyAdmin(loginId, password);

    let written: string | undefined;
    const result = await this.wallets.issue({
      userId: o.user,
      actor: { type: 'cli', id: admin.id },
      reissue: !!o.reissue,
      reason: o.reason,
      beforeCommit: async (pdf, address) => {
        if (outDir) {
          written = join(outDir, `${o.user}-${address}.pdf`);
          writeFileSync(written, pdf, { mode: 0o600, flag: 'wx' });
        }
      },
      onCommitFailure: async () => {
        if (written) {
          rmSync(written, { force: true });
          process.stderr.write(`the address could not be stored: ${written} was removed; nothing was issued\n`);
        }
      },
    });
    result.pdf.fill(0);
    if (outDir) {
      process.stdout.write(`wrote ${written} (mode 0600); wallet ${result.address} issued to user ${result.userId}\n`);
      return;
    }
    await this.display(result.userId, result.userName, result.address, result.privateKeyHex);
  }

  private async display(userId: string, name: string, address: string, keyHex: string): Promise<void> {
    const out = process.stdout;
    const mux = terminalMultiplexer();
    if (mux) process.stderr.write(`warning: running inside ${mux}: its scrollback may keep the key; prefer a plain terminal\n`);
    const qr = await QRCode.toString(keyHex, { type: 'terminal', small: true });
    out.write('\x1b[?1049h\x1b[H\x1b[2J');
    out.write(
      `User:    ${userId} (${name})\nAddress: ${address}\n\nPRIVATE KEY (write it down; it is shown once):\n${keyHex}\n\n${qr}\nPress Enter when done.`,
    );
    await ask('');
    // Clear the screen and the scrollback, then leave the alternate screen.
    out.write('\x1b[H\x1b[2J\x1b[3J\x1b[?1049l');
    process.stdout.write(`wallet ${address} issued to user ${userId}; the key was shown once and written nowhere\n`);
  }
}
