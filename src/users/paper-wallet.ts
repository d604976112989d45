/**
 * Renders the paper wallet PDF (pdfkit + qrcode) in memory. The key arrives as bytes;
 * the QR codes are made from a Buffer (qrcode's byte-mode segments), but pdfkit's
 * `text()` takes only a JavaScript string, so the hex text of the key exists once as a
 * string while the page is laid out and lives until garbage collection (JavaScript
 * strings cannot be wiped; see docs/key-custody.md). Every Buffer this function makes
 * (QR images, pdfkit's output chunks) is zeroed before it returns; the caller zeroes
 * the key and the returned PDF once delivered.
 * Japanese names render with Noto Sans JP (SIL OFL 1.1), vendored in assets/fonts/.
 * Dates are printed in JST (Asia/Tokyo, UTC+9, no daylight saving).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';

export interface PaperWalletInput {
  userId: string;
  userName: string;
  operatorName: string;
  address: string;
  /** The 32 key bytes; read, never kept. */
  privateKey: Uint8Array;
  /** The medium id printed on the sheet (secure-room chain of custody). */
  mediumId: string;
  /** `paper`: a printed sheet; `file`: a PDF on removable media (or the HTTP answer). */
  mediumKind: 'paper' | 'file';
  issuedAt: Date;
  reissue?: boolean;
  /** Encrypts the PDF with AES-256 (PDF 1.7 extension level 3) under this password. */
  password?: string;
}

/** `0x` + lowercase hex of `bytes`, as ASCII in a Buffer (no JavaScript string). */
export function hexBytes(bytes: Uint8Array): Buffer {
  const digits = Buffer.from('0123456789abcdef', 'latin1');
  const out = Buffer.alloc(2 + bytes.length * 2);
  out[0] = 0x30;
  out[1] = 0x78;
  for (let i = 0; i < bytes.length; i++) {
    out[2 + 2 * i] = digits[bytes[i]! >> 4]!;
    out[3 + 2 * i] = digits[bytes[i]! & 15]!;
  }
  return out;
}

/** `2026-12-01 18:30:00 JST`: Japan has kept UTC+9 without daylight saving since 1951. */
function formatJst(d: Date): string {
  return `${new Date(d.getTime() + 9 * 3600_000).toISOString().replace('T', ' ').slice(0, 19)} JST`;
}

function fontPath(weight: '400Regular' | '700Bold'): string {
  let root = __dirname;
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  return join(root, 'assets', 'fonts', `NotoSansJP_${weight}.ttf`);
}

const INK = '#1d2433';
const MUTED = '#5b6475';
const ACCENT = '#b42318';

export async function renderPaperWallet(w: PaperWalletInput): Promise<Buffer> {
  const keyAscii = hexBytes(w.privateKey);
  let keyQr: Buffer;
  let addressQr: Buffer;
  try {
    [addressQr, keyQr] = await Promise.all([
      QRCode.toBuffer(w.address, { errorCorrectionLevel: 'M', margin: 1, width: 300 }),
      QRCode.toBuffer([{ data: keyAscii, mode: 'byte' }], { errorCorrectionLevel: 'M', margin: 1, width: 300 }),
    ]);
  } catch (e) {
    keyAscii.fill(0);
    throw e;
  }
  const doc = new PDFDocument({
    size: 'A4',
    margin: 48,
    info: { Title: 'kagi paper wallet', Author: 'kagi secure room', Subject: `wallet ${w.address}` },
    ...(w.password
      ? {
          pdfVersion: '1.7ext3' as const,
          userPassword: w.password,
          ownerPassword: w.password,
          permissions: { printing: 'highResolution' as const },
        }
      : {}),
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((res, rej) => {
    doc.on('end', () => {
      const pdf = Buffer.concat(chunks);
      for (const c of chunks) c.fill(0);
      keyQr.fill(0);
      res(pdf);
    });
    doc.on('error', (e) => {
      for (const c of chunks) c.fill(0);
      keyQr.fill(0);
      rej(e);
    });
  });
  doc.registerFont('jp', fontPath('400Regular'));
  doc.registerFont('jp-bold', fontPath('700Bold'));
  const left = 48;
  const width = doc.page.width - 96;

  doc.font('jp-bold').fontSize(20).fillColor(INK).text('ペーパーウォレット  Paper Wallet', left, 48);
  doc
    .font('jp')
    .fontSize(9)
    .fillColor(MUTED)
    .text(`kagi secure room · ${w.reissue ? 'REISSUE / 再発行' : 'first issue / 初回発行'}`, left, 76);
  doc
    .moveTo(left, 94)
    .lineTo(left + width, 94)
    .lineWidth(1)
    .strokeColor('#d0d5dd')
    .stroke();

  const row = (label: string, value: string, y: number) => {
    doc.font('jp').fontSize(9).fillColor(MUTED).text(label, left, y, { width: 150 });
    doc
      .font('jp')
      .fontSize(11)
      .fillColor(INK)
      .text(value, left + 150, y - 1, { width: width - 150 });
  };
  row('投資家 / Investor', w.userName, 108);
  row('User ID', w.userId, 130);
  row('事業者 / Operator', w.operatorName, 152);
  row('発行日 / Issued (JST)', formatJst(w.issuedAt), 174);
  row('媒体番号 / Medium ID', `${w.mediumId}  (${w.mediumKind === 'paper' ? '印刷 / printed sheet' : 'ファイル / PDF file'})`, 196);

  // Public address
  const y1 = 232;
  doc.roundedRect(left, y1, width, 170, 6).lineWidth(1).strokeColor('#d0d5dd').stroke();
  doc.image(addressQr, left + 12, y1 + 12, { width: 146 });
  doc
    .font('jp-bold')
    .fontSize(12)
    .fillColor(INK)
    .text('ウォレットアドレス  Wallet address (public)', left + 172, y1 + 16);
  doc
    .font('jp')
    .fontSize(9)
    .fillColor(MUTED)
    .text('Share freely: securities are issued to this address.', left + 172, y1 + 36, { width: width - 184 });
  doc
    .font('Courier-Bold')
    .fontSize(11)
    .fillColor(INK)
    .text(w.address, left + 172, y1 + 70, { width: width - 184 });

  // Private key
  const y2 = y1 + 190;
  doc.roundedRect(left, y2, width, 190, 6).lineWidth(2).strokeColor(ACCENT).stroke();
  doc.image(keyQr, left + 12, y2 + 12, { width: 166 });
  doc
    .font('jp-bold')
    .fontSize(12)
    .fillColor(ACCENT)
    .text('秘密鍵  PRIVATE KEY — keep secret', left + 192, y2 + 16);
  doc
    .font('jp')
    .fontSize(9)
    .fillColor(MUTED)
    .text('Anyone holding this key controls the wallet. It exists only on this sheet.', left + 192, y2 + 36, { width: width - 204 });
  doc
    .font('Courier-Bold')
    .fontSize(10)
    .fillColor(INK)
    // pdfkit lays out text from strings only: the one JavaScript string of the key.
    .text(keyAscii.toString('latin1'), left + 192, y2 + 78, { width: width - 204 });
  keyAscii.fill(0);

  // Handling instructions
  const y3 = y2 + 210;
  doc.font('jp-bold').fontSize(11).fillColor(INK).text('取扱い上の注意  Handling', left, y3);
  const lines = [
    'オフラインで保管してください（金庫など）。 Store offline, e.g. in a safe; never type the key into a connected device.',
    '撮影・スキャン・コピーをしないでください。 Never photograph, scan or copy this sheet.',
    'この秘密鍵はサーバーに保存されていません。 The platform does not keep this key and cannot show it again.',
    '紛失・盗難時は直ちに取引事業者へ連絡してください。 If lost or stolen, tell your operator at once: the wallet is frozen and a new one is issued (再発行); the securities are recovered to it.',
  ];
  let y = y3 + 20;
  for (const l of lines) {
    doc.font('jp').fontSize(9).fillColor(INK).text(`• ${l}`, left, y, { width });
    y = doc.y + 4;
  }
  doc.end();
  return done;
}
