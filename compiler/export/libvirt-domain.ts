/** The machine-wide part of the libvirt export: name, UUID, vmgenid, memory, CPUs, SMBIOS, firmware, features, clock, accelerator, serial and display. */
import { report, scalarText, type Ctx } from './libvirt-context.js';
import { clockElement, cpuElement, featuresElement, genidElement, graphicsElements, osElement, serialElement, sysinfoElement, vcpuCount } from './libvirt-vm.js';
import { el, type XmlElement } from './xml.js';

export interface DomainHead {
  /** `<domain type=…>`: kvm, or qemu for TCG. */
  readonly type: string;
  readonly elements: XmlElement[];
  /** Machine-level devices (graphics). */
  readonly devices: XmlElement[];
  /** Folders libvirt writes into and does not create (the nvram's). */
  readonly folders: string[];
}

function domainType(ctx: Ctx, accel: 'kvm' | 'tcg' | undefined): string {
  if (accel) return accel === 'kvm' ? 'kvm' : 'qemu';
  const v = ctx.spec.properties.get('accel')?.value;
  const list = v?.kind === 'List' ? v.items.map(scalarText) : v ? [scalarText(v)] : ['kvm', 'tcg'];
  if (list.length > 1) {
    report(ctx, 'warning', `accel = [${list.join(', ')}]: a libvirt domain has one accelerator; exported as ${list[0]}`, v?.span, 'pass `--accel kvm` or `--accel tcg` to choose');
  }
  return list[0] === 'tcg' ? 'qemu' : 'kvm';
}

export function domainHead(ctx: Ctx, opts: { name?: string; accel?: 'kvm' | 'tcg' }): DomainHead {
  const mp = ctx.spec.properties;
  const memory = mp.get('memory')?.value;
  const vcpus = vcpuCount(ctx);
  const { os, folders } = osElement(ctx);
  const mib = memory?.kind === 'Size' ? Math.floor(memory.bytes / (1024 * 1024)) : 1024;
  const type = domainType(ctx, opts.accel);
  const gfx = [serialElement(ctx), ...graphicsElements(ctx)].filter((e): e is XmlElement => e !== undefined);
  const hasVideo = ctx.machine.devices.some((d) => ['VGA', 'qxl-vga', 'virtio-vga', 'bochs-display', 'virtio-gpu-pci'].includes(d.model));
  // With graphics and no video, libvirt would add a VGA adapter of its own.
  if (gfx.some((e) => e.name === 'graphics') && !hasVideo) gfx.push(el('video', {}, el('model', { type: 'none' })));
  const elements = [
    el('name', {}, opts.name ?? ctx.machine.name),
    el('uuid', {}, ctx.machine.uuid),
    genidElement(ctx),
    el('memory', { unit: 'MiB' }, String(mib)),
    el('vcpu', { placement: 'static' }, String(vcpus)),
    sysinfoElement(ctx),
    os,
    featuresElement(ctx),
    cpuElement(ctx, vcpus),
    clockElement(ctx),
  ].filter((e): e is XmlElement => e !== undefined);
  return { type, elements, devices: gfx, folders };
}
