/**
 * `machinec export libvirt`: the placed machine as libvirt domain XML, every controller and
 * device with the address the lock gives it, so libvirt places nothing itself.
 *
 * - PCI controllers get libvirt `index` = the guest bus number behind them (the lock's
 *   `secondary`): the firmware numbers depth-first, so a parent's index is always below its
 *   children's, and `bus='0x05'` in an address reads as the guest's bus 05.
 * - Every device gets the user alias `ua-ID`, so QEMU's `id=` (and QMP `query-pci`) is the
 *   machinec id with libvirt's prefix.
 * - What libvirt would add by itself is written or switched off: the chipset's IDE/SATA
 *   controller at its built-in address, `<memballoon model='none'/>`, no USB controller unless declared.
 * - Source properties libvirt has no element for go to `<qemu:override>` (a warning); what cannot
 *   be said at all (a backend libvirt lacks, nvme on libvirt 9.0) is an error naming it.
 *
 * Pure: the caller passes the folder relative disk paths are relative to.
 */
import type { Diagnostic } from '../../grammar/index.js';
import type { MachineSpec } from '../machine-spec.js';
import { chipsets } from '../chipsets.js';
import { hex2 } from '../text.js';
import type { PlacedMachine } from '../model.js';
import { commandlineArgs, commandlineElement, machineModel } from './libvirt-commandline.js';
import { ALIAS, idSpan, report, splitBus, type Ctx } from './libvirt-context.js';
import { deviceElement } from './libvirt-devices.js';
import { domainHead } from './libvirt-domain.js';
import { qemuArgsCarried } from './libvirt-vm.js';
import type { QemuModel } from '../qemu/model.js';
import { el, renderXml, type XmlElement } from './xml.js';

export interface LibvirtExportInput {
  readonly spec: MachineSpec;
  readonly machine: PlacedMachine;
  /** The folder of the .machine file: relative disk paths are made absolute against it (libvirt wants absolute ones). */
  readonly baseDir: string;
  /** The domain name (default: the machine name). */
  readonly name?: string;
  /** Carry devices libvirt's XML cannot describe as `<qemu:commandline>` arguments (a warning each) instead of failing. */
  readonly qemuCommandline?: boolean;
  /** The accelerator: kvm → `<domain type='kvm'>`, tcg → `type='qemu'` (default: the machine's first). */
  readonly accel?: 'kvm' | 'tcg';
}

export interface LibvirtExport {
  readonly xml?: string;
  /** Folders the domain's files go in that libvirt does not create (the nvram's: libvirt copies the VARS template there at first start). */
  readonly folders: string[];
  readonly diagnostics: Diagnostic[];
}

const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';
/** The controllers' libvirt indexes: PCI ones by guest bus number, the others by order of appearance per type. */
function controllerIndexes(machine: PlacedMachine): Map<string, number> {
  const index = new Map<string, number>();
  const chipsetSata = chipsets[machine.chipset].diskController.libvirtType === 'sata';
  const counters: Record<string, number> = { usb: 0, scsi: 0, sata: chipsetSata ? 1 : 0, 'virtio-serial': 0, sound: 0 };
  const kindOf: Record<string, string> = { 'qemu-xhci': 'usb', 'piix3-usb-uhci': 'usb', 'virtio-scsi-pci': 'scsi', 'ich9-ahci': 'sata', 'virtio-serial-pci': 'virtio-serial', 'intel-hda': 'sound' };
  // On pc, libvirt wants a PIIX3 USB controller at index 0 only at 00:01.2: other USB controllers come first.
  const piix3Last = [...machine.devices].sort((a, b) => Number(a.model === 'piix3-usb-uhci') - Number(b.model === 'piix3-usb-uhci'));
  for (const d of piix3Last) {
    if (d.secondaryBus !== undefined) index.set(d.id, d.secondaryBus);
    const kind = kindOf[d.model];
    if (kind) index.set(d.id, counters[kind]++);
  }
  return index;
}

/**
 * Every device's element, in lock order, into `devices`; returns the `<qemu:commandline>`
 * arguments of the devices that cannot be elements (only with `fallback`, else they are errors).
 */
function deviceElements(ctx: Ctx, devices: XmlElement[], fallback: boolean): string[] {
  const carried = new Set<string>();
  const args: string[] = [];
  let model: QemuModel | undefined;
  for (const d of ctx.machine.devices) {
    const owner = d.attachment === 'pci' ? d.bus : splitBus(d.bus)[0];
    let reasons: string[] = [`it sits on ${owner}, which goes there too`];
    if (!carried.has(owner)) {
      const local: Ctx = { ...ctx, diagnostics: [], overrides: [] };
      const e = deviceElement(local, d);
      const errors = local.diagnostics.filter((x) => x.severity === 'error');
      if (!errors.length || !fallback) {
        ctx.diagnostics.push(...local.diagnostics);
        ctx.overrides.push(...local.overrides);
        if (e) devices.push(e);
        continue;
      }
      reasons = errors.map((x) => x.message);
    }
    carried.add(d.id);
    model ??= machineModel(ctx);
    args.push(...commandlineArgs(ctx, d, model));
    ctx.diagnostics.push({
      code: 'libvirt-commandline',
      severity: 'warning',
      message: `${d.id} goes to <qemu:commandline> at its locked address: ${reasons.join('; ')}`,
      file: ctx.spec.file,
      span: idSpan(d),
      hint: 'libvirt passes these arguments to QEMU unchecked and does not know the device is there: virsh attach-device could choose its address',
    });
  }
  return args;
}

export function exportLibvirt(input: LibvirtExportInput): LibvirtExport {
  const { spec, machine } = input;
  const diagnostics: Diagnostic[] = [];
  const sharedSlots = new Set<string>();
  for (const d of machine.devices) if (d.addr && d.addr.fn > 0) sharedSlots.add(`${d.bus}/${d.addr.slot}`);
  const ctx: Ctx = {
    spec,
    machine,
    baseDir: input.baseDir,
    diagnostics,
    byId: new Map(machine.devices.map((d) => [d.id, d])),
    index: controllerIndexes(machine),
    sharedSlots,
    overrides: [],
    targets: { vd: 0, sd: 0, hd: 0 },
  };
  for (const d of machine.devices) {
    if (!ALIAS.test(d.id)) report(ctx, 'error', `libvirt aliases take letters, digits, "-" and "_": ${d.id} cannot be one`, idSpan(d), `rename it (\`machinec rename FILE ${d.id} NEW\` keeps its address)`);
  }
  const chip = chipsets[machine.chipset];
  const disks = chip.diskController;
  const diskAddress = { type: 'pci', domain: '0x0000', bus: '0x00', slot: `0x${hex2(disks.addr.slot)}`, function: `0x${disks.addr.fn}` };
  const devices: XmlElement[] = [el('controller', { type: 'pci', index: 0, model: chip.rootBusKind === 'pcie' ? 'pcie-root' : 'pci-root' })];
  devices.push(el('controller', { type: disks.libvirtType, index: 0 }, el('address', diskAddress)));
  const args = deviceElements(ctx, devices, Boolean(input.qemuCommandline));
  if (!devices.some((e) => e.name === 'controller' && e.attrs.type === 'usb')) devices.push(el('controller', { type: 'usb', model: 'none' }));
  if (!machine.devices.some((d) => d.model === 'virtio-balloon-pci')) devices.push(el('memballoon', { model: 'none' }));
  const head = domainHead(ctx, input);
  const domain = el(
    'domain',
    { type: head.type, 'xmlns:qemu': QEMU_NS },
    ...head.elements,
    el('devices', {}, ...devices, ...head.devices),
    ctx.overrides.length ? el('qemu:override', {}, ...ctx.overrides) : undefined,
    commandlineElement([...args, ...qemuArgsCarried(ctx)]),
  );
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, folders: [] };
  return { xml: renderXml(domain), diagnostics, folders: head.folders };
}
