/** The machine-wide part of the libvirt export: name, UUID, memory, CPUs, machine type, accelerator, display. */
import type { Value } from '../../grammar/index.js';
import { report, scalarText, type Ctx } from './libvirt-context.js';
import { el, type XmlElement } from './xml.js';

export interface DomainHead {
  /** `<domain type=…>`: kvm, or qemu for TCG. */
  readonly type: string;
  readonly elements: XmlElement[];
  /** Machine-level devices (graphics). */
  readonly devices: XmlElement[];
  readonly commandline?: XmlElement;
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

function graphics(ctx: Ctx, v: Value | undefined): XmlElement[] {
  if (!v) return [];
  const type = v.kind === 'Block' ? v.type?.name ?? '' : scalarText(v);
  if (type === 'none') return [];
  if (type === 'vnc' && (v.kind !== 'Block' || v.properties.length === 0)) return [el('graphics', { type: 'vnc', autoport: 'yes', listen: '127.0.0.1' })];
  if (type === 'sdl' && v.kind !== 'Block') return [el('graphics', { type: 'sdl' })];
  report(ctx, 'error', `display ${type}${v.kind === 'Block' ? ' { … }' : ''} has no libvirt <graphics> form here`, v.span, 'the export carries display = none, vnc and sdl; set the display in libvirt (virsh edit) instead');
  return [];
}

export function domainHead(ctx: Ctx, opts: { name?: string; accel?: 'kvm' | 'tcg' }): DomainHead {
  const mp = ctx.spec.properties;
  const memory = mp.get('memory')?.value;
  const cpus = mp.get('cpus')?.value;
  const mib = memory?.kind === 'Size' ? Math.floor(memory.bytes / (1024 * 1024)) : 1024;
  const type = domainType(ctx, opts.accel);
  const display = mp.get('display')?.value;
  const gfx = graphics(ctx, display);
  const hasVideo = ctx.machine.devices.some((d) => ['VGA', 'qxl-vga', 'virtio-vga', 'bochs-display', 'virtio-gpu-pci'].includes(d.model));
  // With graphics and no video, libvirt would add a VGA adapter of its own.
  if (gfx.length && !hasVideo) gfx.push(el('video', {}, el('model', { type: 'none' })));
  const elements = [
    el('name', {}, opts.name ?? ctx.machine.name),
    el('uuid', {}, ctx.machine.uuid),
    el('memory', { unit: 'MiB' }, String(mib)),
    el('vcpu', { placement: 'static' }, String(cpus?.kind === 'Integer' ? cpus.value : 1)),
    el('os', {}, el('type', { arch: 'x86_64', machine: ctx.machine.machineType }, 'hvm')),
    el('features', {}, el('acpi'), el('apic')),
    el('clock', { offset: 'utc' }),
  ];
  return { type, elements, devices: gfx };
}
