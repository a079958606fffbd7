/**
 * Semantic checks, dtc-style: each one named, listed once in `checks`, and named again as the
 * code of every diagnostic it reports.
 */
import type { Diagnostic, Property, Span, Value } from '../grammar/index.js';
import { audiodevTypes, backendProps, catalog, chardevTypes, childBusOf, netdevTypes, type PropSpec } from './catalog.js';
import { chipsets, chipsetOfMachineType } from './chipsets.js';
import type { DeviceSpec, MachineSpec } from './machine-spec.js';
import { capacityOf, formatAddress } from './machine-spec.js';
import { didYouMean } from './suggest.js';
import { valueChecks } from './value-checks.js';
import type { Chipset, PlacedDevice } from './model.js';

export interface CheckContext {
  readonly machine: MachineSpec;
  report(code: string, message: string, span: Span | undefined, hint?: string, related?: Diagnostic['related']): void;
}

export interface Check {
  readonly id: string;
  run(ctx: CheckContext): void;
}

/** Machine-level properties: name → type. */
export const machineProps: Readonly<Record<string, PropSpec>> = {
  chipset: { type: 'name', doc: 'pc, q35, or a versioned machine type such as pc-q35-7.2' },
  memory: { type: 'size', doc: 'guest RAM, e.g. 4G or 1024M' },
  cpus: { type: 'integer', min: 1, max: 288 },
  accel: { type: 'name', values: ['kvm', 'tcg'], doc: 'kvm or tcg, or a list tried in order; default [kvm, tcg]' },
  uuid: { type: 'string', doc: 'the SMBIOS UUID; generated and locked when absent' },
  display: { type: 'name', values: ['none', 'gtk', 'sdl', 'vnc', 'curses', 'egl-headless', 'spice-app', 'dbus'], doc: 'the QEMU display; QEMU chooses when absent' },
};

const QEMU_ID = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function describeValue(v: Value): string {
  switch (v.kind) {
    case 'Identifier': return `the name ${v.name}`;
    case 'String': return 'a string';
    case 'Integer': return 'an integer';
    case 'Size': return 'a size';
    case 'Boolean': return 'a boolean';
    case 'List': return 'a list';
    case 'Block': return `a ${v.type.name} { … } block`;
  }
}

/** Whether `v` fits `spec`; returns a problem description when it does not. */
export function checkValue(v: Value, spec: PropSpec): string | undefined {
  const want: Record<PropSpec['type'], string> = { string: 'a string', integer: 'an integer', boolean: 'true or false', size: 'a size such as 4G', mac: 'a MAC address string such as "52:54:00:12:34:56"', name: 'a name' };
  switch (spec.type) {
    case 'string':
      return v.kind === 'String' ? undefined : `expected ${want.string}, found ${describeValue(v)}`;
    case 'integer':
      if (v.kind !== 'Integer') return `expected ${want.integer}, found ${describeValue(v)}`;
      if ((spec.min !== undefined && v.value < spec.min) || (spec.max !== undefined && v.value > spec.max)) return `${v.text} is out of range ${spec.min ?? '…'}..${spec.max ?? '…'}`;
      return undefined;
    case 'boolean':
      return v.kind === 'Boolean' ? undefined : `expected ${want.boolean}, found ${describeValue(v)}`;
    case 'size':
      return v.kind === 'Size' ? undefined : `expected ${want.size}, found ${describeValue(v)}`;
    case 'mac':
      return v.kind === 'String' && MAC.test(v.value) ? undefined : `expected ${want.mac}`;
    case 'name':
      if (v.kind === 'Identifier' || v.kind === 'Block') {
        const name = v.kind === 'Block' ? v.type.name : v.name;
        return spec.values && !spec.values.includes(name) ? `${name} is not one of ${spec.values.join(', ')}` : undefined;
      }
      if (v.kind === 'List' && spec.values) return v.items.map((i) => checkValue(i, { ...spec, values: spec.values })).find(Boolean);
      return `expected ${want.name}, found ${describeValue(v)}`;
  }
}

function checkProperties(ctx: CheckContext, props: readonly Property[], allowed: Readonly<Record<string, PropSpec>>, where: string): void {
  const seen = new Map<string, Property>();
  for (const p of props) {
    if (!p.key.name) continue;
    const first = seen.get(p.key.name);
    if (first) {
      ctx.report('duplicate-property', `${p.key.name} is set twice in ${where}`, p.key.span, 'remove one of them', [{ message: 'first set here', file: ctx.machine.file, span: first.key.span }]);
      continue;
    }
    seen.set(p.key.name, p);
    const spec = Object.hasOwn(allowed, p.key.name) ? allowed[p.key.name] : undefined;
    if (!spec) {
      const known = Object.keys(allowed);
      ctx.report('unknown-property', `${where} has no property ${p.key.name}`, p.key.span, didYouMean(p.key.name, known) ?? (known.length ? `known properties: ${known.sort().join(', ')}` : 'it takes no properties'));
      continue;
    }
    if (!p.value) continue;
    const problem = checkValue(p.value, spec);
    if (problem) ctx.report('property-type', `${p.key.name}: ${problem}`, p.value.span, typeHint(p.key.name, p.value, spec) ?? spec.doc);
  }
}

/** A concrete rewrite for the common slips: a quoted number, 0/1 for a boolean, a plain number for a size. */
function typeHint(key: string, v: Value, spec: PropSpec): string | undefined {
  if (spec.type === 'integer' && v.kind === 'String' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v.value)) return `write the number without quotes: \`${key} = ${v.value}\``;
  if (spec.type === 'boolean' && v.kind === 'Integer' && (v.value === 0 || v.value === 1)) return `write \`${key} = ${v.value ? 'true' : 'false'}\``;
  if (spec.type === 'boolean' && v.kind === 'Identifier' && ['on', 'off', 'yes', 'no'].includes(v.name)) return `write \`${key} = ${v.name === 'on' || v.name === 'yes' ? 'true' : 'false'}\``;
  if (spec.type === 'size' && v.kind === 'Integer') return `give it a unit: \`${key} = ${v.text}M\` (K, M, G or T)`;
  return undefined;
}

const allowedProps = (d: DeviceSpec): Record<string, PropSpec> => ({ ...d.spec!.props, ...(d.spec!.backend ? backendProps[d.spec!.backend] : {}) });

export const checks: readonly Check[] = [
  {
    id: 'machine-properties',
    run(ctx) {
      checkProperties(ctx, ctx.machine.node?.properties ?? [], machineProps, `machine ${ctx.machine.name}`);
    },
  },
  {
    id: 'unknown-chipset',
    run(ctx) {
      const v = ctx.machine.properties.get('chipset')?.value;
      if (v?.kind === 'Identifier' && !chipsetOfMachineType(v.name)) {
        ctx.report('unknown-chipset', `unknown chipset ${v.name}`, v.span, didYouMean(v.name, ['pc', 'q35']) ?? 'use pc (i440FX), q35, or a versioned type such as pc-q35-7.2');
      }
    },
  },
  {
    id: 'memory-size',
    run(ctx) {
      const v = ctx.machine.properties.get('memory')?.value;
      if (v?.kind === 'Size' && (v.bytes % (1024 * 1024) !== 0 || v.bytes === 0)) {
        ctx.report('memory-size', `memory must be a whole number of megabytes, not ${v.text}`, v.span, 'write it as e.g. 512M or 4G');
      }
    },
  },
  {
    id: 'uuid-format',
    run(ctx) {
      const v = ctx.machine.properties.get('uuid')?.value;
      if (v?.kind === 'String' && !UUID.test(v.value)) ctx.report('uuid-format', `"${v.value}" is not a UUID`, v.span, 'write it as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex, or leave it out and machinec generates and locks one');
    },
  },
  {
    id: 'unknown-model',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        if (!d.spec) ctx.report('unknown-model', `unknown device model ${d.model}`, d.modelSpan, didYouMean(d.model, Object.keys(catalog)) ?? 'machinec knows: ' + Object.keys(catalog).sort().join(', '));
      }
    },
  },
  {
    id: 'invalid-id',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        if (!QEMU_ID.test(d.id)) ctx.report('invalid-id', `${d.id} is not a valid QEMU id`, d.idSpan, 'an id starts with a letter and holds only letters, digits, "-", "." and "_"');
      }
    },
  },
  {
    id: 'reserved-id',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        if (/^(pci|pcie)\.\d+$/.test(d.id) || d.id === 'ide') ctx.report('reserved-id', `${d.id} is the name of a bus QEMU creates itself`, d.idSpan, 'choose another id: pci.N, pcie.N and ide (whose buses are ide.N) belong to the chipset');
      }
    },
  },
  {
    id: 'duplicate-id',
    run(ctx) {
      const seen = new Map<string, DeviceSpec>();
      for (const d of ctx.machine.devices) {
        const first = seen.get(d.id);
        if (first) ctx.report('duplicate-id', `device id ${d.id} is used twice`, d.idSpan, 'ids name devices in the guest and in the lock: give each device its own', [{ message: 'first used here', file: ctx.machine.file, span: first.idSpan }]);
        else seen.set(d.id, d);
      }
    },
  },
  {
    id: 'chipset-model',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        if (d.spec?.chipsets && !d.spec.chipsets.includes(ctx.machine.chipset)) {
          ctx.report('chipset-model', `${d.model} needs a PCI Express machine (${d.spec.chipsets.join(', ')}), but this one is ${ctx.machine.chipset}`, d.modelSpan, ctx.machine.chipset === 'pc' ? 'use pci-bridge on pc, or set chipset = q35' : undefined);
        }
      }
    },
  },
  {
    id: 'wrong-bus',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        if (!d.spec) continue;
        const needs = childBusOf[d.spec.plug];
        const parent = d.parent?.spec;
        if (!d.parent) {
          if (needs && needs !== 'ide') {
            const controllers = Object.entries(catalog).filter(([, s]) => s.provides === needs).map(([m]) => m);
            ctx.report('wrong-bus', `${d.model} plugs into a ${needs} bus; it cannot sit on the machine's PCI bus`, d.modelSpan, `nest it in a ${controllers.join(' or ')} device`);
          }
          continue;
        }
        if (!parent) continue;
        if (!parent.provides) {
          ctx.report('wrong-bus', `${d.parent.id} (${d.parent.model}) provides no bus, so ${d.id} cannot be nested in it`, d.modelSpan, `move ${d.id} out of ${d.parent.id}'s block, to the top level or into a controller`);
        } else if (needs ? parent.provides !== needs : parent.provides !== 'pci' && parent.provides !== 'pcie-port') {
          const what = needs ?? 'PCI';
          ctx.report('wrong-bus', `${d.model} needs a ${what} bus, but ${d.parent.id} (${d.parent.model}) provides a ${parent.provides} bus`, d.modelSpan, needs ? `nest it in a ${Object.entries(catalog).filter(([, s]) => s.provides === needs).map(([m]) => m).join(' or ')}` : 'move it to the top level or into a bridge');
        }
      }
    },
  },
  {
    id: 'bus-capacity',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        const cap = capacityOf(d);
        if (cap !== undefined && d.children.length > cap) {
          ctx.report('bus-capacity', `${d.id} (${d.model}) holds at most ${cap} device${cap === 1 ? '' : 's'}, but ${d.children.length} are nested in it`, d.children[cap].idSpan, d.spec?.capacityProps ? `set ${d.spec.capacityProps.join(' or ')} (up to 15 ports), or add another USB controller` : d.spec?.provides === 'usb' ? 'add another USB controller' : d.spec?.provides === 'pcie-port' ? 'a root port holds one device: declare another pcie-root-port, or move the device to the top level and machinec adds one' : 'add another controller');
        }
      }
    },
  },
  {
    id: 'device-properties',
    run(ctx) {
      for (const d of ctx.machine.devices) if (d.spec) checkProperties(ctx, d.node.properties, allowedProps(d), `${d.model}`);
    },
  },
  {
    id: 'missing-backend',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        const backend = d.spec?.backend;
        const props = new Set(d.node.properties.map((p) => p.key.name));
        const need = backend === 'netdev' ? 'netdev' : backend === 'block' ? 'file' : backend === 'chardev' ? 'chardev' : undefined;
        if (need && !props.has(need)) {
          const example = { netdev: 'netdev = user', file: 'file = "disk.qcow2"', chardev: 'chardev = pty' }[need];
          ctx.report('missing-backend', `${d.id} (${d.model}) needs a ${need === 'file' ? 'disk image' : need} backend`, d.idSpan, `add \`${example}\` to its block`);
        }
        if (d.model === 'vfio-pci' && !props.has('host')) ctx.report('missing-backend', `${d.id} (vfio-pci) needs the host device to pass through`, d.idSpan, 'add `host = "0000:01:00.0"`');
      }
    },
  },
  {
    id: 'backend-type',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        for (const p of d.node.properties) {
          const types = p.key.name === 'netdev' ? netdevTypes : p.key.name === 'chardev' ? chardevTypes : p.key.name === 'audiodev' ? audiodevTypes : undefined;
          const v = p.value;
          if (!types || !v || !d.spec?.backend) continue;
          const name = v.kind === 'Identifier' ? v.name : v.kind === 'Block' ? v.type.name : undefined;
          if (name !== undefined && !types.includes(name)) ctx.report('backend-type', `unknown ${p.key.name} type ${name}`, v.span, didYouMean(name, types) ?? `use one of ${types.join(', ')}`);
          if (v.kind === 'Block') {
            for (const q of v.properties) {
              if (q.value && q.value.kind !== 'String' && q.value.kind !== 'Identifier' && q.value.kind !== 'Integer' && q.value.kind !== 'Boolean' && q.value.kind !== 'Size') {
                ctx.report('property-type', `${q.key.name}: expected a string, name, number or boolean, found ${describeValue(q.value)}`, q.value.span);
              }
            }
          }
        }
      }
    },
  },
  {
    id: 'readonly-ide-hd',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        const ro = d.model === 'ide-hd' ? d.node.properties.find((p) => p.key.name === 'readonly') : undefined;
        if (ro?.value?.kind === 'Boolean' && ro.value.value) ctx.report('readonly-ide-hd', `${d.id}: QEMU's ide-hd cannot use a read-only disk`, ro.value.span, 'use ide-cd for read-only media, or scsi-hd (which takes readonly = true) on a virtio-scsi-pci controller');
      }
    },
  },
  {
    id: 'bad-address',
    run(ctx) {
      for (const d of ctx.machine.devices) {
        const a = d.node.address;
        if (!a) continue;
        if (d.spec && childBusOf[d.spec.plug]) {
          ctx.report('bad-address', `${d.model} is not a PCI device, so it takes no @ address`, a.span, 'remove the @ address; machinec numbers its port and locks it');
          continue;
        }
        if (!d.address) {
          const m = /^([0-9a-fA-F]+)(?:\.([0-9a-fA-F]+))?$/.exec(a.text);
          const why = !m ? 'an address is a hex slot and function, e.g. 05.0' : parseInt(m[1], 16) > 0x1f ? `slot ${m[1]} is out of range: a PCI bus has 32 slots, 00 to 1f` : `function ${m[2]} is out of range: a slot has 8 functions, 0 to 7`;
          ctx.report('bad-address', `bad PCI address @ ${a.text}`, a.span, why);
          continue;
        }
        if (!d.parent) {
          const chip = chipsets[ctx.machine.chipset];
          const builtin = chip.builtins.find((b) => b.slot === d.address!.slot && b.fn === d.address!.fn);
          if (builtin) ctx.report('reserved-address', `${chip.rootBus} ${formatAddress(d.address)} is the ${builtin.what}, built into ${ctx.machine.chipset}`, a.span, `choose another slot; built-ins use ${[...new Set(chip.builtins.map((b) => formatAddress({ slot: b.slot, fn: 0 }).slice(0, 2)))].join(' and ')}`);
        } else if (d.parent.spec?.provides === 'pcie-port' && d.address.slot !== 0) {
          ctx.report('bad-address', `a root port has one slot, 00; ${a.text} is not on it`, a.span, 'use @ 00.0 or leave the address out');
        } else if (d.parent.spec?.provides === 'pci' && d.address.slot === 0) {
          ctx.report('reserved-address', `slot 00 of ${d.parent.id} (${d.parent.model}) is reserved for its hotplug controller`, a.span, 'use slots 01 to 1f behind a bridge');
        }
      }
    },
  },
  {
    id: 'address-conflict',
    run(ctx) {
      const seen = new Map<string, DeviceSpec>();
      for (const d of ctx.machine.devices) {
        if (!d.address) continue;
        const key = `${d.parent?.id ?? ''}/${formatAddress(d.address)}`;
        const first = seen.get(key);
        if (first) ctx.report('address-conflict', `${d.id} and ${first.id} both ask for ${formatAddress(d.address)} on ${d.parent ? d.parent.id : 'the root bus'}`, d.node.address!.span, 'give one of them another address, or drop its @ and let machinec place it', [{ message: `${first.id} asks for it here`, file: ctx.machine.file, span: first.node.address!.span }]);
        else seen.set(key, d);
      }
    },
  },
  ...valueChecks,
];

export function runChecks(machine: MachineSpec): Diagnostic[] {
  const out: Diagnostic[] = [];
  const ctx: CheckContext = {
    machine,
    report: (code, message, span, hint, related) => out.push({ code, severity: 'error', message, file: machine.file, span, hint, related }),
  };
  if (!machine.node) return out;
  if (!machine.node.name) return out;
  for (const check of checks) check.run(ctx);
  return out;
}

/**
 * IO port space, after placement. The firmware gives every bridge or root port whose devices
 * have an IO BAR a window of at least 4 KiB, from a pool SeaBIOS keeps below 0xa000 on pc and
 * below 0x10000 on q35 (QEMU 7.2: 8 such bridges on pc, 14 on q35, measured with one e1000
 * each). One more and SeaBIOS stops with "PCI: out of I/O address space" before booting.
 */
const IO_WINDOW = 0x1000;
const ioPool: Readonly<Record<Chipset, { readonly bytes: number; readonly range: string; readonly builtins: number }>> = {
  pc: { bytes: 0x9000, range: '0x1000 to 0x9fff', builtins: 16 }, // PIIX3 IDE
  q35: { bytes: 0xf000, range: '0x1000 to 0xffff', builtins: 32 }, // ICH9 SATA
};

/** IO port bytes a placed device's BARs take, where it sits. */
function ioBytes(d: PlacedDevice, byId: ReadonlyMap<string, PlacedDevice>): number {
  const io = catalog[d.model]?.ioBar;
  if (!io || d.attachment !== 'pci') return 0;
  return io.legacy && (byId.get(d.bus)?.model === 'pcie-root-port' || d.pins['disable-legacy'] === 'on') ? 0 : io.bytes;
}

export function ioSpaceWarnings(chipset: Chipset, devices: readonly PlacedDevice[], file: string): Diagnostic[] {
  const byId = new Map(devices.map((d) => [d.id, d]));
  const own = new Map<string, number>();
  for (const d of devices) {
    const n = ioBytes(d, byId);
    if (n) own.set(d.bus, (own.get(d.bus) ?? 0) + n);
  }
  const pool = ioPool[chipset];
  const window = (bytes: number) => Math.max(1, Math.ceil(bytes / IO_WINDOW)) * IO_WINDOW;
  // SeaBIOS also gives a hotplug-capable bridge an IO window of its own, empty or not: every
  // pcie-pci-bridge, and a pci-bridge unless it has shpc=off and io-reserve=0 (measured).
  const reservesIo = (d: PlacedDevice) => d.model === 'pcie-pci-bridge' || (d.model === 'pci-bridge' && !(d.pins.shpc === 'off' && d.pins['io-reserve'] === '0'));
  // Windows nest, and a bridge's own devices round up to whole windows: the pool holds the sum.
  const withIo = devices.filter((d) => d.secondaryBus !== undefined && (own.has(d.id) || reservesIo(d)));
  let used = pool.builtins + [...own].filter(([bus]) => !byId.get(bus)).reduce((n, [, b]) => n + b, 0);
  const beyond: PlacedDevice[] = [];
  for (const b of withIo) {
    if (!beyond.length && used + window(own.get(b.id) ?? 0) < pool.bytes) used += window(own.get(b.id) ?? 0);
    else beyond.push(b);
  }
  if (!beyond.length) return [];
  const [first] = beyond;
  const ioDevice = devices.find((d) => d.bus === first.id && d.source && ioBytes(d, byId));
  const names = beyond.slice(0, 3).map((b) => b.id).join(', ') + (beyond.length > 3 ? ` and ${beyond.length - 3} more` : '');
  const autoPcieBridges = chipset === 'q35' && beyond.some((b) => b.auto && b.model === 'pcie-pci-bridge' && devices.some((d) => d.bus === b.id && catalog[d.model]?.ioBar?.legacy));
  return [{
    code: 'io-space',
    severity: 'warning',
    message: `${withIo.length} bridges and root ports hold devices with IO ports, but the IO space the firmware hands out on ${chipset} (${pool.range}, 4 KiB a bridge) has room for ${withIo.length - beyond.length}: no IO window for ${names}`,
    file,
    span: first.source?.id?.span ?? ioDevice?.source?.id?.span,
    hint:
      'SeaBIOS then stops at boot with "PCI: out of I/O address space": no BAR is assigned and the guest does not start, so drivers that need IO ports never run ' +
      '(`machinec verify` still passes: bus numbers come first). Put devices with IO ports (e1000, rtl8139, e1000e, piix3-usb-uhci, qxl-vga, virtio on a conventional bus) side by side behind fewer bridges, ' +
      'or use virtio devices behind root ports, which have none' +
      (autoPcieBridges ? '; machinec puts PCIe devices behind pcie-pci-bridges once half the bus numbers are used, and virtio devices there are transitional, with IO ports' : ''),
  }];
}
