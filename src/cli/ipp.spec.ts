import { describe, expect, it } from 'vitest';
import { decodeResponse, normalizeFingerprint, printerTarget } from './ipp';

describe('printerTarget', () => {
  const fp = 'ab:'.repeat(31) + 'ab';
  it('takes ipps:// only with a pinned SHA-256 fingerprint', () => {
    expect(() => printerTarget('ipps://printer.example.jp/ipp/print')).toThrow(/needs --printer-fingerprint/);
    expect(printerTarget('ipps://printer.example.jp/ipp/print', fp).fingerprint).toBe('AB'.repeat(32));
    expect(() => printerTarget('ipps://printer.example.jp/ipp/print', 'abcd')).toThrow(/64 hex digits/);
  });
  it('takes ipp:// to loopback only', () => {
    expect(printerTarget('ipp://127.0.0.1:60000/ipp/print').uri.port).toBe('60000');
    expect(printerTarget('ipp://[::1]/ipp/print').uri.hostname).toBe('[::1]');
    expect(printerTarget('ipp://localhost/ipp/print').uri.hostname).toBe('localhost');
    for (const u of ['ipp://192.168.1.20/ipp/print', 'ipp://printer.local/ipp/print', 'ipp://127.0.0.1.nip.io/ipp/print'])
      expect(() => printerTarget(u), u).toThrow(/only to loopback/);
  });
  it('refuses every other scheme, credentials in the URI, and a fingerprint on plain ipp', () => {
    for (const u of [
      'http://127.0.0.1:631/ipp/print',
      'https://printer/ipp',
      'socket://127.0.0.1:9100',
      'lpd://127.0.0.1/q',
      'file:///tmp/x',
    ])
      expect(() => printerTarget(u), u).toThrow(/refused/);
    expect(() => printerTarget('not a uri')).toThrow(/not a URI/);
    expect(() => printerTarget('ipps://u:p@printer/ipp', fp)).toThrow(/credentials/);
    expect(() => printerTarget('ipp://127.0.0.1/ipp', fp)).toThrow(/ipps:\/\/ only/);
  });
  it('normalizes fingerprints written with or without colons', () => {
    expect(normalizeFingerprint('AB'.repeat(32))).toBe(normalizeFingerprint('ab:'.repeat(31) + 'ab'));
  });
});

describe('decodeResponse (RFC 8010)', () => {
  const attr = (tag: number, name: string, value: Buffer) => {
    const n = Buffer.from(name);
    const h = Buffer.alloc(5 + n.length);
    h[0] = tag;
    h.writeUInt16BE(n.length, 1);
    n.copy(h, 3);
    h.writeUInt16BE(value.length, 3 + n.length);
    return Buffer.concat([h, value]);
  };
  it('reads status, groups, multi-valued attributes and skips collections', () => {
    const int = Buffer.alloc(4);
    int.writeInt32BE(3);
    const b = Buffer.concat([
      Buffer.from([1, 1, 0, 0, 0, 0, 0, 7]),
      Buffer.from([0x01]),
      attr(0x47, 'attributes-charset', Buffer.from('utf-8')),
      Buffer.from([0x04]),
      attr(0x49, 'document-format-supported', Buffer.from('image/urf')),
      attr(0x49, '', Buffer.from('application/pdf')),
      attr(0x34, 'media-col-default', Buffer.alloc(0)),
      attr(0x4a, '', Buffer.from('media-size-name')),
      attr(0x44, '', Buffer.from('iso_a4_210x297mm')),
      attr(0x37, '', Buffer.alloc(0)),
      attr(0x22, 'printer-is-accepting-jobs', Buffer.from([1])),
      attr(0x23, 'printer-state', int),
      Buffer.from([0x03]),
    ]);
    const r = decodeResponse(b);
    expect(r).toMatchObject({ status: 0, requestId: 7 });
    const p = r.groups.find((g) => g.tag === 0x04)!.attrs;
    expect(p.get('document-format-supported')).toEqual(['image/urf', 'application/pdf']);
    expect(p.get('printer-is-accepting-jobs')).toEqual([true]);
    expect(p.get('printer-state')).toEqual([3]);
    expect(p.has('media-col-default')).toBe(false);
    expect(p.get('media-size-name')).toBeUndefined();
  });
  it('refuses a truncated or unterminated response', () => {
    expect(() => decodeResponse(Buffer.from([1, 1, 0]))).toThrow(/truncated/);
    expect(() => decodeResponse(Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 1, 0x04]), attr(0x44, 'x', Buffer.from('y'))]))).toThrow(
      /malformed/,
    );
  });
});
