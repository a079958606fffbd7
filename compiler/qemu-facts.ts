/**
 * Facts about QEMU that more than one part of machinec needs, each in one place.
 */
import type { Attachment } from './model.js';

/**
 * Which number places a non-PCI device on its bus: the QEMU property (as pinned in the lock) and
 * its first value. USB ports count from 1, SCSI ids and IDE units from 0, virtio-serial ports
 * from 1 (0 is the console's), HDA codec addresses from 0.
 */
export const childKeys: Readonly<Record<Exclude<Attachment, 'pci' | 'system'>, { readonly pin: string; readonly first: number }>> = {
  usb: { pin: 'port', first: 1 },
  scsi: { pin: 'scsi-id', first: 0 },
  ide: { pin: 'unit', first: 0 },
  'virtio-serial': { pin: 'nr', first: 1 },
  hda: { pin: 'cad', first: 0 },
};
