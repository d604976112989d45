/**
 * The forms a 32-byte key can leak in: raw bytes, hex (either case; with or without 0x),
 * base64 and base64url, the decimal scalar (a bigint in a log line), the byte list of a
 * JSON-serialised Buffer (`{"type":"Buffer","data":[…]}`) and Node's `<Buffer 0a 1b …>`.
 */
function namedForms(secret: Uint8Array): Array<[name: string, form: string]> {
  const b = Buffer.from(secret);
  const hex = b.toString('hex');
  const forms: Array<[string, string]> = [
    ['hex', hex],
    ['HEX', hex.toUpperCase()],
    ['base64', b.toString('base64')],
    ['base64url', b.toString('base64url')],
    ['raw', b.toString('latin1')],
    ['decimal', BigInt(`0x${hex || '0'}`).toString(10)],
    ['byte-list', [...b].join(',')],
    ['spaced-hex', hex.replace(/(..)(?!$)/g, '$1 ')],
  ];
  const seen = new Set<string>();
  return forms.filter(([, f]) => f.length >= 16 && !seen.has(f) && seen.add(f));
}

function secretForms(secret: Uint8Array): string[] {
  return namedForms(secret).map(([, f]) => f);
}

export function findSecrets(text: string, secrets: Uint8Array[]): string[] {
  const hits: string[] = [];
  for (const s of secrets) {
    for (const form of secretForms(s)) {
      if (text.includes(form)) hits.push(`secret found (${form.length}-char form)`);
    }
  }
  return hits;
}

export interface Needle {
  /** Which key, for the report (never the key itself). */
  keyLabel: string;
  form: string;
  bytes: Buffer;
}

/** The byte patterns to look for in binary haystacks (a latin1 string maps one char to one byte). */
export function needlesOf(secret: Uint8Array, keyLabel: string): Needle[] {
  return namedForms(secret).map(([form, f]) => ({ keyLabel, form, bytes: Buffer.from(f, 'latin1') }));
}

/**
 * Finds many needles in one pass (Rabin-Karp over a window of the shortest needle length,
 * a bit filter before the map lookup, every candidate verified byte for byte): the sweep
 * looks for hundreds of keys in eight forms each through tens of megabytes.
 */
export class MultiScanner {
  private readonly window: number;
  private readonly pow: number;
  private readonly filter = new Uint8Array(1 << 20);
  private readonly byHash = new Map<number, Needle[]>();

  constructor(readonly needles: Needle[]) {
    this.window = Math.min(...needles.map((n) => n.bytes.length), 64);
    let pow = 1;
    for (let i = 1; i < this.window; i++) pow = Math.imul(pow, MultiScanner.BASE);
    this.pow = pow >>> 0;
    for (const n of needles) {
      const h = this.hash(n.bytes, 0);
      this.filter[(h >>> 3) & 0xfffff] = (this.filter[(h >>> 3) & 0xfffff] ?? 0) | (1 << (h & 7));
      const list = this.byHash.get(h) ?? [];
      list.push(n);
      this.byHash.set(h, list);
    }
  }

  private static readonly BASE = 257;

  private hash(b: Uint8Array, at: number): number {
    let h = 0;
    for (let i = 0; i < this.window; i++) h = (Math.imul(h, MultiScanner.BASE) + b[at + i]!) >>> 0;
    return h;
  }

  /** The first offset of every needle present in the haystack. */
  scan(haystack: Buffer): Array<{ needle: Needle; offset: number }> {
    const found = new Map<Needle, number>();
    const w = this.window;
    if (!this.needles.length || haystack.length < w) return [];
    let h = this.hash(haystack, 0);
    const last = haystack.length - w;
    for (let i = 0; ; i++) {
      if ((this.filter[(h >>> 3) & 0xfffff]! & (1 << (h & 7))) !== 0) {
        for (const n of this.byHash.get(h) ?? []) {
          const len = n.bytes.length;
          if (!found.has(n) && i + len <= haystack.length && haystack.compare(n.bytes, 0, len, i, i + len) === 0) found.set(n, i);
        }
      }
      if (i >= last) break;
      h = (Math.imul((h - Math.imul(haystack[i]!, this.pow)) >>> 0, MultiScanner.BASE) + haystack[i + w]!) >>> 0;
    }
    return [...found].map(([needle, offset]) => ({ needle, offset }));
  }
}
