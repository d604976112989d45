/**
 * Is a directory on removable media? Reads the kernel's view, never a guess from the
 * path: the mount holding the directory (proc/self/mountinfo, its major:minor), then the
 * block device in sysfs (sys/dev/block/<major:minor> → …/block/<disk>[/<partition>]).
 * Removable means the disk is flagged `removable`, hangs off a USB bus, or is an SD/MMC
 * card (mmcblk). `systemRoot` lets a test present a fake tree (a USB stick, a fixed SATA
 * disk); in production it is `/`.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';

export interface MediaVerdict {
  removable: boolean;
  /** One line for the operator: what the directory is on and why it counts (or not). */
  reason: string;
}

interface Mount {
  majorMinor: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    const dash = f.indexOf('-');
    if (f.length < 10 || dash < 6) continue;
    mounts.push({ majorMinor: f[2]!, mountPoint: unescape(f[4]!), fsType: f[dash + 1]!, source: unescape(f[dash + 2] ?? '') });
  }
  return mounts;
}

function under(path: string, mountPoint: string): boolean {
  return mountPoint === '/' || path === mountPoint || path.startsWith(mountPoint.endsWith(sep) ? mountPoint : mountPoint + sep);
}

export function checkRemovable(dir: string, systemRoot = '/'): MediaVerdict {
  const real = realpathSync(dir);
  const mounts = parseMountinfo(readFileSync(join(systemRoot, 'proc', 'self', 'mountinfo'), 'utf8'));
  // The last, longest mount point over the directory is the one that holds it (later mounts hide earlier ones).
  let mount: Mount | undefined;
  for (const m of mounts) if (under(real, m.mountPoint) && (!mount || m.mountPoint.length >= mount.mountPoint.length)) mount = m;
  if (!mount) return { removable: false, reason: `${real} is on no mount listed in mountinfo` };
  const on = `${real} is on ${mount.source || mount.fsType} (${mount.fsType}, mounted at ${mount.mountPoint}, device ${mount.majorMinor})`;
  if (mount.majorMinor.startsWith('0:')) return { removable: false, reason: `${on}: not a block device` };
  const link = join(systemRoot, 'sys', 'dev', 'block', mount.majorMinor);
  if (!existsSync(link)) return { removable: false, reason: `${on}: no block device ${mount.majorMinor} in sysfs` };
  const device = realpathSync(link);
  const disk = existsSync(join(device, 'partition')) ? dirname(device) : device;
  const flag = existsSync(join(disk, 'removable')) ? readFileSync(join(disk, 'removable'), 'utf8').trim() : '0';
  const usb = /\/usb\d*\//.test(device);
  const sd = basename(disk).startsWith('mmcblk');
  const removable = flag === '1' || usb || sd;
  const why = [
    flag === '1' ? 'flagged removable' : 'not flagged removable',
    usb ? 'on a USB bus' : undefined,
    sd ? 'an SD/MMC card' : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  return { removable, reason: `${on}: disk ${basename(disk)} ${why}` };
}
