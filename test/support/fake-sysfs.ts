/**
 * A fake system root for `wallet:issue --system-root`: proc/self/mountinfo mounting a
 * directory from a block device, and the sysfs tree of that device, so a test can
 * present a USB stick (or a fixed SATA disk) without one.
 */
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export type FakeDisk = 'usb-stick' | 'sd-card' | 'sata-disk';

export function fakeSystemRoot(mountedDir: string, disk: FakeDisk): string {
  const root = mkdtempSync(join(tmpdir(), 'kagi-sysroot-'));
  const dir = realpathSync(mountedDir);
  const spec = {
    'usb-stick': {
      majMin: '8:17',
      dev: 'sdb',
      part: 'sdb1',
      removable: '1',
      bus: 'pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0',
    },
    'sd-card': { majMin: '179:1', dev: 'mmcblk0', part: 'mmcblk0p1', removable: '0', bus: 'platform/fe320000.mmc/mmc_host/mmc1/mmc1:0001' },
    'sata-disk': { majMin: '8:1', dev: 'sda', part: 'sda1', removable: '0', bus: 'pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0' },
  }[disk];
  mkdirSync(join(root, 'proc', 'self'), { recursive: true });
  writeFileSync(
    join(root, 'proc', 'self', 'mountinfo'),
    [
      '22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw',
      `101 22 ${spec.majMin} / ${dir.replace(/ /g, '\\040')} rw,nosuid,nodev,relatime shared:50 - vfat /dev/${spec.part} rw,fmask=0077,dmask=0077`,
      '',
    ].join('\n'),
  );
  const diskDir = join(root, 'sys', 'devices', spec.bus, 'block', spec.dev);
  mkdirSync(join(diskDir, spec.part), { recursive: true });
  writeFileSync(join(diskDir, 'removable'), `${spec.removable}\n`);
  writeFileSync(join(diskDir, spec.part, 'partition'), '1\n');
  mkdirSync(join(root, 'sys', 'dev', 'block'), { recursive: true });
  const link = join(root, 'sys', 'dev', 'block', spec.majMin);
  symlinkSync(relative(join(root, 'sys', 'dev', 'block'), join(diskDir, spec.part)), link);
  return root;
}
