/**
 * The newc ("070701") cpio format the Linux kernel unpacks an initramfs from: a 110-byte ASCII
 * header of thirteen 8-digit hex fields, the NUL-terminated name, the data, each padded to 4
 * bytes, and a last entry named `TRAILER!!!`. Entries are written in the order given, with
 * fixed owner and time, so the same inputs give the same bytes.
 */
export interface CpioEntry {
  /** Path inside the archive, without a leading slash: `bin/busybox`. */
  readonly name: string;
  /** `file` (with data), `dir`, or `symlink` (data is the target). */
  readonly type: 'file' | 'dir' | 'symlink';
  /** Permission bits: 0o755, 0o644. */
  readonly mode: number;
  readonly data?: Uint8Array;
}

const TYPE_BITS = { file: 0o100000, dir: 0o040000, symlink: 0o120000 } as const;
const field = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function header(ino: number, mode: number, size: number, nlink: number, nameLength: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameLength, 0];
  return `070701${fields.map(field).join('')}`;
}

/** The archive's bytes. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const add = (ino: number, mode: number, nlink: number, name: string, data: Uint8Array) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const head = Buffer.from(header(ino, mode, data.length, nlink, nameBytes.length), 'ascii');
    parts.push(head, nameBytes, pad4(head.length + nameBytes.length), Buffer.from(data), pad4(data.length));
  };
  entries.forEach((e, i) => {
    const data = e.type === 'dir' ? new Uint8Array() : (e.data ?? new Uint8Array());
    add(i + 1, TYPE_BITS[e.type] | (e.mode & 0o7777), e.type === 'dir' ? 2 : 1, e.name, data);
  });
  add(0, 0, 1, 'TRAILER!!!', new Uint8Array());
  return Buffer.concat(parts);
}
