/** One libvirt element per placed device: the device table of the libvirt export. */
import type { Value } from '../../grammar/index.js';
import { tpmModels } from '../catalog.js';
import { chipsets } from '../chipsets.js';
import type { PlacedDevice } from '../model.js';
import { absolutePath, address, alias, bootOrder, idSpan, overrideRest, pciController, propValue, report, scalarText, virtioModel, type Ctx } from './libvirt-context.js';
import { filesystemElement, tpmElement } from './libvirt-vm.js';
import { el, type XmlElement } from './xml.js';

type Builder = (ctx: Ctx, d: PlacedDevice) => XmlElement | undefined;

const field = (v: Value | undefined, key: string): string | undefined => {
  if (v?.kind !== 'Block') return undefined;
  const p = v.properties.find((q) => q.key.name === key)?.value;
  return p && scalarText(p);
};

/** A path field of a backend block, absolute against the machine's folder. */
const absoluteField = (ctx: Ctx, v: Value | undefined, key: string): string | undefined => {
  const path = field(v, key);
  return path === undefined ? undefined : absolutePath(ctx.baseDir, path);
};
const typeOf = (v: Value | undefined): string | undefined => (v?.kind === 'Block' ? v.type?.name ?? '' : v ? scalarText(v) : undefined);

/** Every key of a typed backend block except the ones libvirt has a place for: reported as errors. */
function unsupportedKeys(ctx: Ctx, d: PlacedDevice, v: Value | undefined, allowed: readonly string[], what: string): void {
  if (v?.kind !== 'Block') return;
  for (const p of v.properties) {
    if (allowed.includes(p.key.name)) continue;
    const hint = p.key.name === 'hostfwd'
      ? "libvirt 9.0's user <interface> forwards ports only with its passt backend, another network stack (other addresses, DHCP, DNS): export with --qemu-commandline to keep QEMU's, or run this machine with `machinec run`"
      : "libvirt's <interface>/<channel> elements cannot say it: remove it, export with --qemu-commandline, or run this machine with `machinec run`";
    report(ctx, 'error', `${what} ${v.type?.name ?? ''} { ${p.key.name} } of ${d.id} has no libvirt form`, p.span, hint);
  }
}

/** netdev → `<interface type=…>` with its source. */
function nicBackend(ctx: Ctx, d: PlacedDevice): { type: string; children: (XmlElement | undefined)[] } | undefined {
  const v = propValue(d, 'netdev');
  const type = typeOf(v);
  switch (type) {
    case 'user':
      unsupportedKeys(ctx, d, v, [], 'netdev');
      return { type: 'user', children: [] };
    case 'tap':
      unsupportedKeys(ctx, d, v, ['ifname'], 'netdev');
      return { type: 'ethernet', children: [field(v, 'ifname') ? el('target', { dev: field(v, 'ifname'), managed: 'no' }) : undefined] };
    case 'bridge':
      unsupportedKeys(ctx, d, v, ['br'], 'netdev');
      return { type: 'bridge', children: [el('source', { bridge: field(v, 'br') ?? 'br0' })] };
    case 'socket': {
      unsupportedKeys(ctx, d, v, ['listen', 'connect', 'mcast'], 'netdev');
      const [kind, at] = field(v, 'listen') ? ['server', field(v, 'listen')!] : field(v, 'connect') ? ['client', field(v, 'connect')!] : ['mcast', field(v, 'mcast') ?? ''];
      const colon = at.lastIndexOf(':');
      return { type: kind, children: [el('source', { address: at.slice(0, colon) || '127.0.0.1', port: at.slice(colon + 1) })] };
    }
    default:
      report(ctx, 'error', `netdev ${type ?? '(none)'} of ${d.id} has no libvirt <interface> type`, propValue(d, 'netdev')?.span ?? idSpan(d), 'libvirt exports user, tap, bridge and socket backends');
      return undefined;
  }
}

const nicModels: Record<string, (d: PlacedDevice) => string> = { 'virtio-net-pci': virtioModel, e1000: () => 'e1000', e1000e: () => 'e1000e', rtl8139: () => 'rtl8139' };

const nic: Builder = (ctx, d) => {
  const backend = nicBackend(ctx, d);
  overrideRest(ctx, d, ['acpi-index']);
  if (!backend) return undefined;
  const acpi = d.pins['acpi-index'] !== undefined ? el('acpi', { index: d.pins['acpi-index'] }) : undefined;
  return el('interface', { type: backend.type }, el('mac', { address: d.pins.mac }), ...backend.children, el('model', { type: nicModels[d.model](d) }), bootOrder(ctx, d), acpi, alias(d), address(ctx, d));
};

const letters = (n: number): string => (n < 26 ? String.fromCharCode(97 + n) : letters(Math.floor(n / 26) - 1) + String.fromCharCode(97 + (n % 26)));

const diskBus: Record<string, { bus: string; prefix: 'vd' | 'sd' | 'hd' }> = {
  'virtio-blk-pci': { bus: 'virtio', prefix: 'vd' },
  'scsi-hd': { bus: 'scsi', prefix: 'sd' },
  'scsi-cd': { bus: 'scsi', prefix: 'sd' },
  'usb-storage': { bus: 'usb', prefix: 'sd' },
  'ide-hd': { bus: 'ide', prefix: 'hd' },
  'ide-cd': { bus: 'ide', prefix: 'hd' },
};

const disk: Builder = (ctx, d) => {
  const cdrom = d.model.endsWith('-cd');
  const file = propValue(d, 'file');
  if (file?.kind !== 'String' && !cdrom) {
    report(ctx, 'error', `${d.id} has no file: libvirt needs a disk image`, idSpan(d), 'add `file = "…"`');
    return undefined;
  }
  let { bus, prefix } = diskBus[d.model];
  // ide-hd on q35 sits on the ICH9 SATA ports (or a declared ich9-ahci): libvirt's sata bus.
  const ahci = chipsets[ctx.machine.chipset].diskController.libvirtType === 'sata' || ctx.index.has(d.bus.replace(/\.\d+$/, ''));
  if (bus === 'ide' && ahci) [bus, prefix] = ['sata', 'sd'];
  const fmt = propValue(d, 'format');
  const path = file?.kind === 'String' ? file.value : undefined;
  const format = fmt ? scalarText(fmt) : path && /\.qcow2$/i.test(path) ? 'qcow2' : 'raw';
  const ro = propValue(d, 'readonly');
  const removable = propValue(d, 'removable');
  const dev = `${prefix}${letters(ctx.targets[prefix]++)}`;
  overrideRest(ctx, d, ['removable']);
  return el(
    'disk',
    { type: 'file', device: cdrom ? 'cdrom' : 'disk', model: bus === 'virtio' && d.pins['disable-legacy'] === 'on' ? 'virtio-non-transitional' : undefined },
    el('driver', { name: 'qemu', type: format }),
    path !== undefined ? el('source', { file: absolutePath(ctx.baseDir, path) }) : undefined,
    el('target', { dev, bus, removable: removable?.kind === 'Boolean' ? (removable.value ? 'on' : 'off') : undefined }),
    d.pins.serial !== undefined ? el('serial', {}, d.pins.serial) : undefined,
    cdrom || (ro?.kind === 'Boolean' && ro.value) ? el('readonly') : undefined,
    bootOrder(ctx, d),
    alias(d),
    address(ctx, d),
  );
};

/** A controller of a non-PCI bus: usb, scsi, sata, virtio-serial. */
function controller(type: string, model: (d: PlacedDevice) => string | undefined, handled: readonly string[] = [], extra: (ctx: Ctx, d: PlacedDevice) => Record<string, string | number | undefined> = () => ({})): Builder {
  return (ctx, d) => {
    overrideRest(ctx, d, handled);
    return el('controller', { type, index: ctx.index.get(d.id), model: model(d), ...extra(ctx, d) }, alias(d), address(ctx, d));
  };
}

const intValue = (d: PlacedDevice, key: string): number | undefined => {
  const v = propValue(d, key);
  return v?.kind === 'Integer' ? v.value : undefined;
};

const VIDEO_TYPES: Record<string, string> = { VGA: 'vga', 'qxl-vga': 'qxl', 'virtio-vga': 'virtio', 'bochs-display': 'bochs', 'virtio-gpu-pci': 'virtio' };

const video: Builder = (ctx, d) => {
  const first = ctx.machine.devices.find((v) => VIDEO_TYPES[v.model]) === d;
  if (d.model === 'virtio-gpu-pci' && first) {
    report(ctx, 'error', `${d.id}: libvirt makes a machine's first virtio video a virtio-vga, not a virtio-gpu-pci`, idSpan(d), 'use virtio-vga, or put a VGA-compatible adapter first');
    return undefined;
  }
  const mb = intValue(d, 'vgamem_mb');
  const ram = intValue(d, 'ram_size_mb');
  overrideRest(ctx, d, ['vgamem_mb', 'ram_size_mb', 'max_outputs']);
  const model = el('model', { type: VIDEO_TYPES[d.model], vgamem: mb !== undefined ? mb * 1024 : undefined, ram: ram !== undefined ? ram * 1024 : undefined, heads: intValue(d, 'max_outputs'), primary: first ? 'yes' : undefined });
  return el('video', {}, model, alias(d), address(ctx, d));
};

const sound: Builder = (ctx, d) => {
  const codecs = ctx.machine.devices.filter((c) => c.attachment === 'hda' && c.bus === `${d.id}.0`).sort((a, b) => Number(a.pins.cad) - Number(b.pins.cad));
  codecs.forEach((c, i) => {
    if (Number(c.pins.cad) !== i) report(ctx, 'error', `${c.id} is codec ${c.pins.cad} of ${d.id}: libvirt numbers codecs 0, 1, … in order`, idSpan(c));
    const audio = typeOf(propValue(c, 'audiodev'));
    if (audio && audio !== 'none') report(ctx, 'error', `audiodev ${audio} of ${c.id}: the export carries only audiodev none`, propValue(c, 'audiodev')?.span);
  });
  overrideRest(ctx, d, []);
  return el('sound', { model: 'ich6' }, ...codecs.map(() => el('codec', { type: 'duplex' })), el('audio', { id: 1 }), alias(d), address(ctx, d));
};

const channel: Builder = (ctx, d) => {
  const v = propValue(d, 'chardev');
  const type = typeOf(v);
  const name = propValue(d, 'name');
  const target = el('target', { type: 'virtio', name: name?.kind === 'String' ? name.value : undefined });
  overrideRest(ctx, d, ['name']);
  let source: XmlElement | undefined;
  let kind = type;
  if (type === 'socket') {
    unsupportedKeys(ctx, d, v, ['path', 'server', 'wait'], 'chardev');
    kind = 'unix';
    source = el('source', { mode: field(v, 'server') === 'on' ? 'bind' : 'connect', path: absoluteField(ctx, v, 'path') });
  } else if (type === 'file') {
    unsupportedKeys(ctx, d, v, ['path'], 'chardev');
    source = el('source', { path: absoluteField(ctx, v, 'path') });
  } else if (type !== 'pty' && type !== 'null' && type !== 'spicevmc') {
    report(ctx, 'error', `chardev ${type ?? '(none)'} of ${d.id} has no libvirt <channel> type`, v?.span ?? idSpan(d), 'libvirt exports pty, null, socket (unix), file and spicevmc');
    return undefined;
  }
  return el('channel', { type: kind }, source, target, alias(d), address(ctx, d));
};

const input = (type: string): Builder => (ctx, d) => {
  overrideRest(ctx, d, []);
  return el('input', { type, bus: 'usb' }, alias(d), address(ctx, d));
};

const rng: Builder = (ctx, d) => {
  const bytes = intValue(d, 'max-bytes');
  const period = intValue(d, 'period');
  overrideRest(ctx, d, ['max-bytes', 'period']);
  return el('rng', { model: virtioModel(d) }, el('backend', { model: 'builtin' }), bytes !== undefined ? el('rate', { bytes, period }) : undefined, alias(d), address(ctx, d));
};

const onOff = (v: Value | undefined): string | undefined => (v?.kind === 'Boolean' ? (v.value ? 'on' : 'off') : undefined);

const balloon: Builder = (ctx, d) => {
  if (ctx.machine.devices.find((b) => b.model === d.model) !== d) {
    report(ctx, 'error', `${d.id}: a libvirt domain has one memory balloon`, idSpan(d), 'remove the second virtio-balloon-pci');
    return undefined;
  }
  overrideRest(ctx, d, ['deflate-on-oom', 'free-page-reporting']);
  return el('memballoon', { model: virtioModel(d), autodeflate: onOff(propValue(d, 'deflate-on-oom')), freePageReporting: onOff(propValue(d, 'free-page-reporting')) }, alias(d), address(ctx, d));
};

const watchdog: Builder = (ctx, d) => {
  if (ctx.machine.devices.find((b) => b.model === d.model) !== d) {
    report(ctx, 'error', `${d.id}: libvirt 9.0 takes one watchdog`, idSpan(d));
    return undefined;
  }
  overrideRest(ctx, d, []);
  return el('watchdog', { model: 'i6300esb', action: 'reset' }, alias(d), address(ctx, d));
};

const hostdev: Builder = (ctx, d) => {
  const host = propValue(d, 'host');
  const m = host?.kind === 'String' ? /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(host.value) : null;
  if (!m) {
    report(ctx, 'error', `${d.id} needs host = "DDDD:BB:SS.F" for libvirt's <hostdev>`, host?.span ?? idSpan(d));
    return undefined;
  }
  const rombar = intValue(d, 'rombar');
  overrideRest(ctx, d, ['host', 'rombar']);
  const source = el('source', {}, el('address', { domain: `0x${m[1] ?? '0000'}`, bus: `0x${m[2]}`, slot: `0x${m[3]}`, function: `0x${m[4]}` }));
  return el('hostdev', { mode: 'subsystem', type: 'pci', managed: 'yes' }, source, rombar !== undefined ? el('rom', { bar: rombar ? 'on' : 'off' }) : undefined, bootOrder(ctx, d), alias(d), address(ctx, d));
};

const unsupported = (why: string): Builder => (ctx, d) => {
  report(ctx, 'error', `${d.id} (${d.model}): ${why}`, idSpan(d), 'remove it for libvirt, or run this machine with `machinec run`');
  return undefined;
};

const xhciPorts = (_ctx: Ctx, d: PlacedDevice) => {
  const p = [intValue(d, 'p2'), intValue(d, 'p3')].filter((n): n is number => n !== undefined);
  return { ports: p.length ? Math.max(...p) : undefined };
};

/** The device table: model → its libvirt element. */
const builders: Readonly<Record<string, Builder>> = {
  'virtio-net-pci': nic,
  e1000: nic,
  e1000e: nic,
  rtl8139: nic,
  'virtio-blk-pci': disk,
  'scsi-hd': disk,
  'scsi-cd': disk,
  'ide-hd': disk,
  'ide-cd': disk,
  'usb-storage': disk,
  nvme: unsupported('libvirt 9.0 has no NVMe disk bus'),
  'virtio-scsi-pci': controller('scsi', (d) => (d.pins['disable-legacy'] === 'on' ? 'virtio-non-transitional' : 'virtio-scsi')),
  'ich9-ahci': controller('sata', () => undefined),
  'qemu-xhci': controller('usb', () => 'qemu-xhci', [], xhciPorts),
  'piix3-usb-uhci': (ctx, d) => {
    const uhciAt = chipsets[ctx.machine.chipset].piix3Usb;
    if (uhciAt && ctx.index.get(d.id) === 0 && !(d.guest?.bus === 0 && d.addr?.slot === uhciAt.slot && d.addr.fn === uhciAt.fn)) {
      report(ctx, 'error', `${d.id}: libvirt 9.0 puts a pc machine's first USB controller, when it is a PIIX3 one, at 00:01.2 only`, idSpan(d), 'give it `@ 01.2`, declare a qemu-xhci first, or export with --qemu-commandline');
      return undefined;
    }
    return controller('usb', () => 'piix3-uhci')(ctx, d);
  },
  'virtio-serial-pci': controller('virtio-serial', (d) => (d.pins['disable-legacy'] === 'on' ? 'virtio-non-transitional' : undefined), ['max_ports'], (_c, d) => ({ ports: intValue(d, 'max_ports') })),
  'usb-tablet': input('tablet'),
  'usb-kbd': input('keyboard'),
  'usb-mouse': input('mouse'),
  VGA: video,
  'qxl-vga': video,
  'virtio-vga': video,
  'bochs-display': video,
  'virtio-gpu-pci': video,
  'intel-hda': sound,
  'hda-duplex': () => undefined, // a <codec> inside its <sound>
  virtserialport: channel,
  'virtio-rng-pci': rng,
  'virtio-balloon-pci': balloon,
  i6300esb: watchdog,
  'vfio-pci': hostdev,
  ...Object.fromEntries(tpmModels.map((m) => [m, tpmElement])),
  vmgenid: () => undefined, // <genid>, in the domain's head
  'virtio-9p-pci': filesystemElement,
  'pcie-root-port': pciController,
  'pci-bridge': pciController,
  'pcie-pci-bridge': pciController,
};

export function deviceElement(ctx: Ctx, d: PlacedDevice): XmlElement | undefined {
  const build = builders[d.model];
  if (!build) return unsupported('the libvirt export does not know this model')(ctx, d);
  return build(ctx, d);
}
