/** What the libvirt export's pieces share: the machine, its controllers' indexes, diagnostics and addresses. */
import type { Diagnostic, Property, Span, Value } from '../../grammar/index.js';
import { chipsets } from '../chipsets.js';
import { scalar } from '../emit.js';
import type { MachineSpec } from '../machine-spec.js';
import type { PlacedDevice, PlacedMachine } from '../model.js';
import { el, type XmlElement } from './xml.js';

export const ALIAS = /^[A-Za-z0-9_-]+$/;
export const hex = (n: number, w = 2): string => `0x${n.toString(16).padStart(w, '0')}`;

export interface Ctx {
  readonly spec: MachineSpec;
  readonly machine: PlacedMachine;
  readonly baseDir: string;
  readonly diagnostics: Diagnostic[];
  readonly byId: ReadonlyMap<string, PlacedDevice>;
  /** Controller id → libvirt index (PCI: the guest bus number; others: their order per type). */
  readonly index: Map<string, number>;
  readonly sharedSlots: ReadonlySet<string>;
  readonly overrides: XmlElement[];
  readonly targets: Record<'vd' | 'sd' | 'hd', number>;
}

export function report(ctx: Ctx, severity: 'error' | 'warning', message: string, span: Span | undefined, hint?: string): void {
  const code = severity === 'error' ? 'libvirt-unsupported' : 'libvirt-override';
  ctx.diagnostics.push({ code, severity, message, file: ctx.spec.file, span, hint });
}

export const prop = (d: PlacedDevice, key: string): Property | undefined => d.source?.properties.find((p) => p.key.name === key);
export const propValue = (d: PlacedDevice, key: string): Value | undefined => prop(d, key)?.value;
export const idSpan = (d: PlacedDevice): Span | undefined => d.source?.id?.span;

/** A plain value as QEMU spells it (booleans on/off, sizes in bytes): emit's. */
export const scalarText = scalar;

/** QEMU properties that name a host file or socket: written absolute, since libvirt's QEMU runs from its own working directory. */
export const PATH_KEYS: ReadonlySet<string> = new Set(['path', 'file.filename', 'filename', 'romfile', 'sock', 'socket']);

/** A property value made absolute when its key names a path (an empty `romfile` means none and stays empty). */
export const absoluteIfPath = (baseDir: string, key: string, value: string): string =>
  PATH_KEYS.has(key) && value !== '' ? absolutePath(baseDir, value) : value;

/** `path` made absolute against `baseDir` (libvirt takes absolute image paths), `.` and `..` resolved. */
export function absolutePath(baseDir: string, path: string): string {
  if (path.startsWith('/')) return path;
  const out: string[] = [];
  for (const p of `${baseDir}/${path}`.split('/')) {
    if (p === '..') out.pop();
    else if (p !== '.' && p !== '') out.push(p);
  }
  return '/' + out.join('/');
}

export const alias = (d: PlacedDevice): XmlElement => el('alias', { name: `ua-${d.id}` });

/** The guest bus number a PCI bus name stands for: 0 for the root bus, else its bridge's `secondary`. */
export function busIndex(ctx: Ctx, bus: string): number | undefined {
  if (bus === chipsets[ctx.machine.chipset].rootBus) return 0;
  return ctx.index.get(bus);
}

export function pciAddress(ctx: Ctx, d: PlacedDevice): XmlElement | undefined {
  if (!d.addr) return undefined;
  const bus = busIndex(ctx, d.bus);
  if (bus === undefined) {
    report(ctx, 'error', `${d.id} sits on ${d.bus}, which has no bus number in the lock`, idSpan(d), 'build the machine once so the lock numbers every bus, then export again');
    return undefined;
  }
  const multi = d.addr.fn === 0 && (ctx.sharedSlots.has(`${d.bus}/${d.addr.slot}`) || (d.auto && d.model === 'pcie-root-port'));
  return el('address', { type: 'pci', domain: '0x0000', bus: hex(bus), slot: hex(d.addr.slot), function: `0x${d.addr.fn}`, multifunction: multi ? 'on' : undefined });
}

/** The controller id and the number after the dot of a child bus name: `usb.0` → usb, 0. */
export function splitBus(bus: string): [string, number] {
  const dot = bus.lastIndexOf('.');
  return [bus.slice(0, dot), Number(bus.slice(dot + 1))];
}

/** `<address type='drive'|'usb'|'virtio-serial' …/>` for a device on a controller's bus. */
export function childAddress(ctx: Ctx, d: PlacedDevice): XmlElement | undefined {
  const [owner, n] = splitBus(d.bus);
  const controller = ctx.index.get(owner);
  const p = d.pins;
  switch (d.attachment) {
    case 'usb': return el('address', { type: 'usb', bus: controller, port: p.port });
    case 'scsi': return el('address', { type: 'drive', controller, bus: 0, target: p['scsi-id'], unit: 0 });
    case 'virtio-serial': return el('address', { type: 'virtio-serial', controller, bus: 0, port: p.nr });
    case 'ide': {
      if (controller !== undefined) return el('address', { type: 'drive', controller, bus: 0, target: 0, unit: n });
      // The chipset's own: pc's PIIX IDE (ide.0/ide.1, two units each), q35's ICH9 SATA (ide.0 … ide.5).
      const channels = chipsets[ctx.machine.chipset].diskController.libvirtType === 'ide';
      if (channels) return el('address', { type: 'drive', controller: 0, bus: n, target: 0, unit: p.unit });
      return el('address', { type: 'drive', controller: 0, bus: 0, target: 0, unit: n });
    }
    default: return undefined;
  }
}

export const address = (ctx: Ctx, d: PlacedDevice): XmlElement | undefined => (d.attachment === 'pci' ? pciAddress(ctx, d) : childAddress(ctx, d));

/** Source properties with no libvirt element of their own: `<qemu:override>` frontend properties, with a warning. */
export function overrideRest(ctx: Ctx, d: PlacedDevice, handled: readonly string[]): void {
  const skip = new Set([...handled, 'netdev', 'file', 'format', 'readonly', 'chardev', 'audiodev', 'mac', 'serial', 'bootindex']);
  const props: XmlElement[] = [];
  for (const p of d.source?.properties ?? []) {
    if (skip.has(p.key.name) || !p.value) continue;
    const v = p.value;
    const text = scalarText(v);
    if (text === undefined) {
      report(ctx, 'error', `${p.key.name} of ${d.id} has no libvirt form`, p.span);
      continue;
    }
    const type = v.kind === 'Boolean' ? 'bool' : v.kind === 'Integer' || v.kind === 'Size' ? (Number(text) < 0 ? 'signed' : 'unsigned') : 'string';
    const value = v.kind === 'Boolean' ? String(v.value) : v.kind === 'String' ? absoluteIfPath(ctx.baseDir, p.key.name, text) : text;
    props.push(el('qemu:property', { name: p.key.name, type, value }));
    report(ctx, 'warning', `${p.key.name} of ${d.id} has no libvirt element: it goes to <qemu:override>`, p.span, 'libvirt passes it to QEMU unchecked, and tools built on libvirt may not keep it');
  }
  // Pinned bridge properties (growth bridges): QEMU frontend properties libvirt has no element for.
  if (d.pins.shpc !== undefined) props.push(el('qemu:property', { name: 'shpc', type: 'bool', value: String(d.pins.shpc === 'on') }));
  if (d.pins['io-reserve'] !== undefined) props.push(el('qemu:property', { name: 'io-reserve', type: 'unsigned', value: d.pins['io-reserve'] }));
  if (props.length) ctx.overrides.push(el('qemu:device', { alias: `ua-${d.id}` }, el('qemu:frontend', {}, ...props)));
}

export function bootOrder(ctx: Ctx, d: PlacedDevice): XmlElement | undefined {
  const v = propValue(d, 'bootindex');
  if (v?.kind !== 'Integer') return undefined;
  if (v.value < 1) {
    report(ctx, 'error', `bootindex ${v.value} of ${d.id}: libvirt boot orders start at 1`, v.span, 'number boot devices from 1');
    return undefined;
  }
  return el('boot', { order: v.value });
}

/** virtio models machinec locked modern-only (`disable-legacy=on`) are libvirt's `virtio-non-transitional`. */
export const virtioModel = (d: PlacedDevice): string => (d.pins['disable-legacy'] === 'on' ? 'virtio-non-transitional' : 'virtio');

export function pciController(ctx: Ctx, d: PlacedDevice): XmlElement {
  const index = ctx.index.get(d.id);
  const p = d.pins;
  const model = d.model === 'pcie-root-port' ? 'pcie-root-port' : d.model === 'pci-bridge' ? 'pci-bridge' : 'pcie-to-pci-bridge';
  const target =
    d.model === 'pcie-root-port' ? el('target', { chassis: p.chassis, port: hex(Number(p['pcie-port'])) }) : d.model === 'pci-bridge' ? el('target', { chassisNr: p.chassis }) : undefined;
  overrideRest(ctx, d, []);
  return el('controller', { type: 'pci', index, model }, el('model', { name: d.model }), target, alias(d), pciAddress(ctx, d));
}

