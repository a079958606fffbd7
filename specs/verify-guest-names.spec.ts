/**
 * The by-path names of IDE and SATA disks, as a booted Debian 12 guest (udev 252's path_id,
 * `machinec verify --guest linux samples/windows.machine`) gave them: the ATA port, then the
 * device on it. samples/windows has its disk at ide.0 unit 0 and its installer CD at ide.0
 * unit 1; the guest called them `pci-0000:00:01.1-ata-1.0` and `pci-0000:00:01.1-ata-1.1`.
 * machinec once gave both `ata-1.0`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestNamesOf, readLock } from '../compiler/index.js';

const SAMPLES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'samples');

test('samples/windows: the disk at unit 0 and the CD at unit 1 of the PIIX primary channel, as the guest names them', () => {
  const { lock } = readLock(readFileSync(join(SAMPLES, 'windows.machine.lock'), 'utf8'), 'windows.machine.lock');
  const names = guestNamesOf(lock!);
  expect(names.get('disk0')?.byPath).toBe('pci-0000:00:01.1-ata-1.0');
  expect(names.get('install')?.byPath).toBe('pci-0000:00:01.1-ata-1.1');
});
