/**
 * A batch's rows as the client sent them: a JSON body's items, or a CSV read through csv-parse
 * (a kept streaming parser; quoting, embedded newlines and CRLF are its business, not ours).
 * Encoding follows the contract: the Content-Type charset (utf-8, shift_jis, windows-31j);
 * without one, UTF-8 (BOM allowed) when the bytes are valid UTF-8, else CP932, which is what
 * Excel writes for "Shift_JIS" (髙, ①, ㈱ are CP932 extensions plain Shift_JIS lacks).
 * Nothing here judges a row: an empty or malformed field is the row validator's to report.
 */
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
import { AppError, ValidationError } from '../common/app-error';

const MAX_ROWS = 10_000;

/** One row as given; every field is whatever the client sent (validated per row later). */
export interface RawRow {
  row: number;
  userId?: unknown;
  externalRef?: unknown;
  amount?: unknown;
  toUserId?: unknown;
  toExternalRef?: unknown;
  legalBasis?: unknown;
  instruction?: unknown;
}

const CSV_COLUMNS = [
  'userId',
  'externalRef',
  'amount',
  'toUserId',
  'toExternalRef',
  'legalBasisCode',
  'legalBasisReference',
  'legalBasisNote',
  'instructionReference',
  'instructionReceivedAt',
] as const;

const tooMany = () => new ValidationError([{ field: 'items', message: `a batch has at most ${MAX_ROWS} rows` }]);

/** Decodes the CSV bytes per the contract's charset rules. */
export function decodeCsv(bytes: Buffer, contentType: string | undefined): string {
  const charset = /charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  let text: string;
  if (charset === 'utf-8' || charset === 'utf8') {
    text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  } else if (charset === 'shift_jis' || charset === 'windows-31j' || charset === 'sjis' || charset === 'cp932') {
    text = iconv.decode(bytes, 'cp932');
  } else if (charset === undefined) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      text = iconv.decode(bytes, 'cp932');
    }
  } else {
    throw new ValidationError([{ field: 'Content-Type', message: `charset ${charset} is not supported (utf-8, shift_jis, windows-31j)` }]);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parses a CSV batch (header row first), streaming: it stops at row MAX_ROWS + 1. */
export async function csvRows(text: string): Promise<RawRow[]> {
  const parser = Readable.from([text]).pipe(
    parse({ columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }),
  );
  const rows: RawRow[] = [];
  let header: string[] | undefined;
  try {
    for await (const rec of parser as AsyncIterable<Record<string, string>>) {
      if (!header) {
        header = Object.keys(rec);
        const unknown = header.filter((h) => !(CSV_COLUMNS as readonly string[]).includes(h));
        if (unknown.length)
          throw new ValidationError(
            unknown.map((h) => ({ field: h, message: `unknown CSV column (columns: ${CSV_COLUMNS.join(', ')})` })),
            'The CSV header has unknown columns',
          );
      }
      if (rows.length >= MAX_ROWS) throw tooMany();
      rows.push(fromCsv(rows.length + 1, rec));
    }
  } catch (e) {
    parser.destroy();
    if (e instanceof AppError) throw e;
    const line = (e as { lines?: number }).lines;
    throw new ValidationError(
      [{ field: 'body', message: `CSV line ${line ?? '?'}: ${(e as Error).message.replace(/^Invalid Record Length: /, '')}` }],
      `The CSV cannot be parsed (line ${line ?? '?'})`,
    );
  }
  return rows;
}

const blank = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

function fromCsv(row: number, rec: Record<string, string>): RawRow {
  const code = blank(rec.legalBasisCode);
  const reference = blank(rec.legalBasisReference);
  const note = blank(rec.legalBasisNote);
  const iref = blank(rec.instructionReference);
  const iat = blank(rec.instructionReceivedAt);
  return {
    row,
    userId: blank(rec.userId),
    externalRef: blank(rec.externalRef),
    amount: blank(rec.amount),
    toUserId: blank(rec.toUserId),
    toExternalRef: blank(rec.toExternalRef),
    legalBasis: code || reference || note ? { code, reference, note } : undefined,
    instruction: iref || iat ? { reference: iref, receivedAt: iat } : undefined,
  };
}

/** A JSON body's items, numbered from 1. */
export function jsonRows(items: readonly Record<string, unknown>[]): RawRow[] {
  if (items.length > MAX_ROWS) throw tooMany();
  return items.map((it, i) => ({ ...it, row: i + 1 }));
}
