import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRemovable, parseMountinfo } from './removable-media';

function tree(mounts: string[], devices: Array<{ majMin: string; path: string; removable: string; partition?: string }>): string {
  const root = mkdtempSync(join(tmpdir(), 'kagi-sysroot-unit-'));
  mkdirSync(join(root, 'proc', 'self'), { recursive: true });
  writeFileSync(join(root, 'proc', 'self', 'mountinfo'), mounts.join('\n') + '\n');
  mkdirSync(join(root, 'sys', 'dev', 'block'), { recursive: true });
  for (const d of devices) {
    const disk = join(root, 'sys', 'devices', d.path);
    mkdirSync(disk, { recursive: true });
    writeFileSync(join(disk, 'removable'), d.removable + '\n');
    let target = disk;
    if (d.partition) {
      target = join(disk, d.partition);
      mkdirSync(target);
      writeFileSync(join(target, 'partition'), '1\n');
    }
    symlinkSync(target, join(root, 'sys', 'dev', 'block', d.majMin));
  }
  return root;
}

describe('checkRemovable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kagi-mnt-'));
  const sub = join(dir, 'wallets');
  mkdirSync(sub);
  const base = '22 1 8:2 / / rw - ext4 /dev/sda2 rw';
  const devices = [
    { majMin: '8:2', path: 'pci0000:00/ata1/host0/block/sda', removable: '0', partition: 'sda2' },
    { majMin: '8:17', path: 'pci0000:00/0000:00:14.0/usb2/2-1/host6/block/sdb', removable: '0', partition: 'sdb1' },
    { majMin: '8:33', path: 'pci0000:00/ata3/host2/block/sdc', removable: '1' },
    { majMin: '179:1', path: 'platform/mmc/mmc_host/mmc1/block/mmcblk0', removable: '0', partition: 'mmcblk0p1' },
  ];
  const at = (majMin: string, fs = 'vfat') => tree([base, `101 22 ${majMin} / ${dir} rw - ${fs} /dev/x rw`], devices);

  it('takes a USB disk (even unflagged), a disk flagged removable and an SD card, also for a subdirectory', () => {
    expect(checkRemovable(sub, at('8:17'))).toMatchObject({ removable: true, reason: expect.stringContaining('USB') });
    expect(checkRemovable(dir, at('8:33')).removable).toBe(true);
    expect(checkRemovable(dir, at('179:1')).reason).toContain('SD/MMC');
  });
  it('refuses the fixed root disk, a memory file system and an unknown device', () => {
    expect(checkRemovable(dir, tree([base], devices))).toMatchObject({
      removable: false,
      reason: expect.stringContaining('sda not flagged'),
    });
    expect(checkRemovable(dir, at('0:45', 'tmpfs')).reason).toContain('not a block device');
    expect(checkRemovable(dir, at('8:99')).reason).toContain('no block device 8:99');
  });
  it('takes the innermost, latest mount and decodes escaped mount points', () => {
    const spaced = join(dir, 'with space');
    mkdirSync(spaced);
    const root = tree(
      [base, `101 22 8:17 / ${dir} rw - vfat /dev/sdb1 rw`, `102 101 8:2 / ${spaced.replace(/ /g, '\\040')} rw - ext4 /dev/sda2 rw`],
      devices,
    );
    expect(checkRemovable(spaced, root).removable).toBe(false);
    expect(checkRemovable(sub, root).removable).toBe(true);
    expect(parseMountinfo('36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw')[0]).toMatchObject({
      majorMinor: '98:0',
      mountPoint: '/mnt/a b',
      fsType: 'ext3',
    });
  });
});
