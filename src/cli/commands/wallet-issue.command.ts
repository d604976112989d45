import { closeSync, constants as fsc, accessSync, existsSync, fsyncSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommandRunner, Option } from 'nest-commander';
import QRCode from 'qrcode';
import { AuthService } from '../../auth/auth.service';
import { AppConfig, terminalMultiplexer } from '../../config/app-config';
import { hexBytes } from '../../users/paper-wallet';
import { WalletIssuanceService, type IssueOutput } from '../../users/wallet-issuance.service';
import { checkPrinter, PrinterError, printerTarget, printPdf, type PrinterTarget } from '../ipp';
import { ask } from '../prompt';
import { checkRemovable } from '../removable-media';

interface Options {
  user?: string;
  out?: string;
  display?: boolean;
  print?: string;
  printerFingerprint?: string;
  pdfPassword?: boolean;
  allowFixedMedia?: boolean;
  systemRoot?: string;
  reissue?: boolean;
  reason?: string;
}

const MIN_PDF_PASSWORD = 12;

/** Writes all of `data` to a new file (0600, never over an existing one), fsyncs it and its directory. */
function writeDurably(path: string, data: Buffer): void {
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(path);
}

function fsyncDir(path: string): void {
  const dfd = openSync(resolve(path, '..'), fsc.O_RDONLY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * Secure-room wallet issuance (the production path). Every check runs before the key
 * exists: the options, the removable medium, the printer (reachable, accepting PDF),
 * the admin login and the PDF password. Then the key is made once and delivered, in
 * this order, to the screen (--display), a PDF on removable media (--out) and a printer
 * (--print); only when every output succeeded are the address and the medium records
 * committed. A failure removes the file it wrote, stores no address, and records only
 * media that may still exist (a shown key, a sheet that may have printed) as `void`.
 */
@Command({
  name: 'wallet:issue',
  description: "Issue an investor's cold wallet to the screen (--display), removable media (--out) and/or a printer (--print)",
})
export class WalletIssueCommand extends CommandRunner {
  constructor(
    private readonly wallets: WalletIssuanceService,
    private readonly auth: AuthService,
    private readonly config: AppConfig,
  ) {
    super();
  }

  @Option({ flags: '--user <id>', description: 'user (investor) id', required: true })
  parseUser(v: string): string {
    return v;
  }

  @Option({ flags: '--display', description: 'show the key once on screen (first, before any other output)' })
  parseDisplay(): boolean {
    return true;
  }

  @Option({ flags: '--out <dir>', description: 'write the PDF (0600, fsynced) to this directory on removable media' })
  parseOut(v: string): string {
    return v;
  }

  @Option({ flags: '--print <ipp-uri>', description: 'print the PDF: ipps://host/path with --printer-fingerprint, or ipp:// to loopback' })
  parsePrint(v: string): string {
    return v;
  }

  @Option({ flags: '--printer-fingerprint <sha256>', description: "SHA-256 of the ipps:// printer's certificate (pinned)" })
  parseFingerprint(v: string): string {
    return v;
  }

  @Option({ flags: '--pdf-password', description: 'encrypt the --out PDF with AES-256 under a password asked on the terminal' })
  parsePdfPassword(): boolean {
    return true;
  }

  @Option({ flags: '--allow-fixed-media', description: 'development only: let --out write to a fixed disk' })
  parseAllowFixed(): boolean {
    return true;
  }

  @Option({ flags: '--system-root <dir>', description: 'tests only: read sysfs and proc/self/mountinfo under this directory' })
  parseSystemRoot(v: string): string {
    return v;
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
    // ---- pre-flight: everything that can refuse runs before the key exists ----
    if (!o.user) throw new Error('--user is required');
    if (!o.display && !o.out && !o.print) throw new Error('choose at least one of --display, --out <dir>, --print <ipp-uri>');
    if (o.reissue && !o.reason) throw new Error('--reissue needs --reason');
    if (o.pdfPassword && !o.out) throw new Error('--pdf-password applies to --out');
    if (o.printerFingerprint && !o.print) throw new Error('--printer-fingerprint applies to --print');
    if (this.config.isProduction && o.allowFixedMedia) throw new Error('--allow-fixed-media is refused in production');
    if (this.config.isProduction && o.systemRoot) throw new Error('--system-root is refused in production');

    const outDir = o.out ? this.checkOutDir(o.out, o) : undefined;
    let printer: PrinterTarget | undefined;
    if (o.print) {
      printer = printerTarget(o.print, o.printerFingerprint);
      try {
        await checkPrinter(printer);
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : 'printer check failed'}; nothing was issued`, { cause: e });
      }
    }

    const loginId = await ask('admin login id: ');
    const password = await ask('admin password: ', { secret: true });
    const admin = await this.auth.verifyAdmin(loginId, password);

    let pdfPassword: string | undefined;
    if (o.pdfPassword) {
      pdfPassword = await ask('PDF password: ', { secret: true });
      if ([...pdfPassword].length < MIN_PDF_PASSWORD)
        throw new Error(`the PDF password needs at least ${MIN_PDF_PASSWORD} characters; nothing was issued`);
      if ((await ask('PDF password again: ', { secret: true })) !== pdfPassword)
        throw new Error('the two PDF passwords differ; nothing was issued');
    }

    // ---- the key exists from here until issue() returns ----
    const outputs: IssueOutput[] = [];
    if (o.display) outputs.push(this.displayOutput());
    if (outDir) outputs.push(this.fileOutput(outDir, pdfPassword));
    if (printer) outputs.push(this.printOutput(printer));
    let result;
    try {
      result = await this.wallets.issue({
        userId: o.user,
        actor: { type: 'cli', id: admin.id },
        reissue: !!o.reissue,
        reason: o.reason,
        outputs,
      });
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : 'issuance failed'}; nothing was issued`, { cause: e });
    }
    const media = result.media.map((m) => `${m.kind} ${m.mediumId}`).join(', ');
    process.stdout.write(`wallet ${result.address} issued to user ${result.userId}; media: ${media}\n`);
  }

  private checkOutDir(out: string, o: Options): string {
    const dir = resolve(out);
    let ok: boolean;
    try {
      ok = statSync(dir).isDirectory();
      accessSync(dir, fsc.W_OK);
    } catch {
      ok = false;
    }
    if (!ok) throw new Error(`--out ${dir} is not a writable directory; nothing was issued`);
    const verdict = checkRemovable(dir, o.systemRoot ? resolve(o.systemRoot) : '/');
    if (!verdict.removable) {
      if (!o.allowFixedMedia) throw new Error(`--out ${dir} is not on removable media (${verdict.reason}); nothing was issued`);
      process.stderr.write(`warning: --allow-fixed-media: ${verdict.reason}\n`);
    }
    return dir;
  }

  private displayOutput(): IssueOutput {
    let shown = false;
    return {
      kind: 'display',
      deliver: async (d) => {
        const key = hexBytes(d.key!);
        try {
          const out = process.stdout;
          const mux = terminalMultiplexer();
          if (mux) process.stderr.write(`warning: running inside ${mux}: its scrollback may keep the key; prefer a plain terminal\n`);
          // qrcode takes the key as a byte segment (a Buffer); what it returns is a string of
          // block characters that draws the key: that string cannot be wiped.
          const qr = await QRCode.toString([{ data: key, mode: 'byte' }], { type: 'terminal', small: true });
          shown = true;
          out.write('\x1b[?1049h\x1b[H\x1b[2J');
          out.write(`User:      ${d.userId} (${d.userName})\nAddress:   ${d.address}\nMedium ID: ${d.mediumId} (display)\n\n`);
          out.write('PRIVATE KEY (write it down; it is shown once):\n');
          out.write(Buffer.from(key));
          out.write(`\n\n${qr}\nPress Enter when done.`);
          await ask('');
          // Clear the screen and the scrollback, then leave the alternate screen.
          out.write('\x1b[H\x1b[2J\x1b[3J\x1b[?1049l');
        } finally {
          key.fill(0);
        }
      },
      // A key that was shown may have been written down: it is a medium to destroy.
      undo: async () => shown,
    };
  }

  private fileOutput(dir: string, pdfPassword: string | undefined): IssueOutput {
    let path: string | undefined;
    return {
      kind: 'file',
      pdfPassword,
      deliver: async (d) => {
        path = join(dir, `${d.userId}-${d.address}.pdf`);
        writeDurably(path, d.pdf!);
        process.stderr.write(`wrote ${path} (mode 0600${pdfPassword ? ', AES-256 encrypted' : ''}; medium ${d.mediumId})\n`);
      },
      undo: async () => {
        if (!path || !existsSync(path)) return false;
        try {
          rmSync(path, { force: true });
          fsyncDir(path);
          process.stderr.write(`removed ${path}\n`);
          return false;
        } catch {
          process.stderr.write(`could not remove ${path}: destroy this medium\n`);
          return true;
        }
      },
    };
  }

  private printOutput(printer: PrinterTarget): IssueOutput {
    let state: 'none' | 'maybe' | 'printed' = 'none';
    return {
      kind: 'paper',
      deliver: async (d) => {
        try {
          const job = await printPdf(printer, d.pdf!);
          state = 'printed';
          process.stderr.write(`printed on ${printer.uri.host} (job ${job ?? '?'}; medium ${d.mediumId})\n`);
        } catch (e) {
          if (e instanceof PrinterError && e.mayHavePrinted) state = 'maybe';
          throw e;
        }
      },
      undo: async () => {
        if (state !== 'none') process.stderr.write('a sheet may have printed: it is recorded as a void medium; destroy it\n');
        return state !== 'none';
      },
    };
  }
}
