/**
 * The source checks: the resolved machine as written, before anything is placed. Each is one
 * named function in the registry; its id is the code of every diagnostic it reports.
 */
import type { Diagnostic, Identifier, Property, Value } from '../../grammar/index.js';
import { DEVICE_ID_RULE, isDeviceId } from '../../grammar/index.js';
import { audiodevTypes, backendProps, blockTypes, catalog, chardevTypes, childBusOf, machineProps, netdevTypes, type BlockKind, type BlockType, type PropSpec } from '../catalog.js';
import { chipsetNames, chipsets, chipsetOfMachineType } from '../chipsets.js';
import type { DeviceSpec, MachineSpec } from '../machine-spec.js';
import { capacityOf, formatAddress } from '../machine-spec.js';
import { didYouMean } from '../suggest.js';
import { busOwnerProperties } from '../qemu-facts.js';
import { valueChecks } from './values.js';
import { vmBlockUses, vmChecks } from './vm.js';
import { runRegistered, type Check } from './registry.js';
import type { SourceContext } from './source-context.js';


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
    case 'Block': return v.type ? `a ${v.type.name} { … } block` : 'a { … } block';
  }
}

/** Whether `v` fits `spec`; returns a problem description when it does not. */
const want: Readonly<Record<PropSpec['type'], string>> = { string: 'a string', integer: 'an integer', boolean: 'true or false', size: 'a size such as 4G', mac: 'a MAC address string such as "52:54:00:12:34:56"', name: 'a name', block: 'a name or a block', strings: 'a list of strings' };

export function checkValue(v: Value, spec: PropSpec): string | undefined {
  switch (spec.type) {
    case 'string':
      if (spec.repeats && v.kind === 'List') return v.items.map((i) => checkValue(i, { ...spec, repeats: false })).find(Boolean);
      return v.kind === 'String' ? undefined : `expected ${want.string}, found ${describeValue(v)}`;
    case 'integer':
      if (spec.auto && v.kind === 'Identifier' && v.name === 'auto') return undefined;
      if (v.kind !== 'Integer') return `expected ${want.integer}, found ${describeValue(v)}`;
      if ((spec.min !== undefined && v.value < spec.min) || (spec.max !== undefined && v.value > spec.max)) return `${v.text} is out of range ${spec.min ?? '…'}..${spec.max ?? '…'}`;
      return undefined;
    case 'boolean':
      return v.kind === 'Boolean' ? undefined : `expected ${want.boolean}, found ${describeValue(v)}`;
    case 'size':
      return v.kind === 'Size' ? undefined : `expected ${want.size}, found ${describeValue(v)}`;
    case 'mac':
      return v.kind === 'String' && MAC.test(v.value) ? undefined : `expected ${want.mac}`;
    case 'block':
      return v.kind === 'Identifier' || v.kind === 'Block' || v.kind === 'String' ? undefined : `expected ${want.block}, found ${describeValue(v)}`;
    case 'strings':
      return v.kind === 'List' ? undefined : `expected ${want.strings}, found ${describeValue(v)}`;
    case 'name':
      if (v.kind === 'Identifier' || v.kind === 'Block') {
        const name = v.kind === 'Block' ? v.type?.name ?? '' : v.name;
        return spec.values && !spec.values.includes(name) ? `${name} is not one of ${spec.values.join(', ')}` : undefined;
      }
      if (v.kind === 'List' && spec.values) return v.items.map((i) => checkValue(i, { ...spec, values: spec.values })).find(Boolean);
      return `expected ${want.name}, found ${describeValue(v)}`;
  }
}

interface PropertyUse {
  readonly p: Property;
  /** `machine NAME` or the device's model. */
  readonly where: string;
  readonly allowed: Readonly<Record<string, PropSpec>>;
  /** The earlier setting of the same key in the same block, when this one repeats it. */
  readonly first?: Property;
}

/** propertyUses, made once per resolved machine: three checks walk it. */
const usesOf = new WeakMap<MachineSpec, PropertyUse[]>();
function propertyUses(machine: MachineSpec): PropertyUse[] {
  let uses = usesOf.get(machine);
  if (!uses) usesOf.set(machine, (uses = collectPropertyUses(machine)));
  return uses;
}

/** Every property of the machine and of its devices of known models, with what it may be. */
function collectPropertyUses(machine: MachineSpec): PropertyUse[] {
  const out: PropertyUse[] = [];
  const block = (props: readonly Property[], allowed: Readonly<Record<string, PropSpec>>, where: string) => {
    const seen = new Map<string, Property>();
    for (const p of props) {
      if (!p.key.name) continue;
      out.push({ p, where, allowed, first: seen.get(p.key.name) });
      if (!seen.has(p.key.name)) seen.set(p.key.name, p);
    }
  };
  block(machine.node?.properties ?? [], machineProps, `machine ${machine.name}`);
  // The VM-wide blocks, `vnc { listen = … }`, `{ sockets = 1 }`, `Skylake-Client { hv-time = true }`: their keys by their schemas.
  for (const b of vmBlockUses(machine)) block(b.props, b.allowed, b.where);
  for (const d of machine.devices) if (d.spec) block(d.node.properties, allowedProps(d), `${d.model}`);
  // hostfwd, a string or a list of them, is judged by hostfwd-format alone (on a user netdev or not).
  for (const { kind, v, name, type } of typedBlocks(machine)) block(kind === 'netdev' ? v.properties.filter((p) => p.key.name !== 'hostfwd') : v.properties, type.keys, `${kind} ${name.name} { … }`);
  return out;
}

interface TypedBlock {
  readonly kind: BlockKind;
  readonly v: Extract<Value, { kind: 'Block' }>;
  readonly name: Identifier;
  readonly type: BlockType;
}

/** typedBlocks, found once per resolved machine: two checks walk them. */
const typedBlocksOf = new WeakMap<MachineSpec, TypedBlock[]>();

/** Every typed block whose type the catalog knows (`tap { … }`, `accel = kvm { … }`), with its schema, in source order. */
function typedBlocks(machine: MachineSpec): TypedBlock[] {
  let out = typedBlocksOf.get(machine);
  if (out) return out;
  out = [];
  addTypedBlocks(out, machine.node?.properties ?? [], MACHINE_BLOCKS);
  for (const d of machine.devices) if (d.spec?.backend) addTypedBlocks(out, d.node.properties, DEVICE_BLOCKS);
  typedBlocksOf.set(machine, out);
  return out;
}

const MACHINE_BLOCKS: readonly BlockKind[] = ['display', 'accel'];
const DEVICE_BLOCKS: readonly BlockKind[] = ['netdev', 'chardev', 'audiodev', 'format'];

function addTypedBlocks(out: TypedBlock[], props: readonly Property[], kinds: readonly BlockKind[]): void {
  for (const p of props) {
    const kind = p.key.name as BlockKind;
    if (!p.value || !kinds.includes(kind)) continue;
    for (const v of p.value.kind === 'List' ? p.value.items : [p.value]) {
      if (v.kind === 'Block' && v.type && Object.hasOwn(blockTypes[kind], v.type.name)) out.push({ kind, v, name: v.type, type: blockTypes[kind][v.type.name] });
    }
  }
}

const specOf = (u: PropertyUse): PropSpec | undefined => (Object.hasOwn(u.allowed, u.p.key.name) ? u.allowed[u.p.key.name] : undefined);

/** A concrete rewrite for the common slips: a quoted number, 0/1 for a boolean, a plain number for a size. */
function typeHint(key: string, v: Value, spec: PropSpec): string | undefined {
  if (spec.type === 'integer' && v.kind === 'String' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v.value)) return `write the number without quotes: \`${key} = ${v.value}\``;
  if (spec.type === 'boolean' && v.kind === 'Integer' && (v.value === 0 || v.value === 1)) return `write \`${key} = ${v.value ? 'true' : 'false'}\``;
  if (spec.type === 'boolean' && v.kind === 'Identifier' && ['on', 'off', 'yes', 'no'].includes(v.name)) return `write \`${key} = ${v.name === 'on' || v.name === 'yes' ? 'true' : 'false'}\``;
  if (spec.type === 'size' && v.kind === 'Integer') return `give it a unit: \`${key} = ${v.text}M\` (K, M, G or T)`;
  return undefined;
}

const BACKEND_TYPES: Readonly<Record<string, readonly string[] | undefined>> = { netdev: netdevTypes, chardev: chardevTypes, audiodev: audiodevTypes };

/** A model's properties with its backend's, made once per catalog model. */
const allowedOf = new WeakMap<object, Record<string, PropSpec>>();
function allowedProps(d: DeviceSpec): Record<string, PropSpec> {
  const spec = d.spec!;
  let allowed = allowedOf.get(spec);
  if (!allowed) allowedOf.set(spec, (allowed = { ...spec.props, ...(spec.backend ? backendProps[spec.backend] : {}) }));
  return allowed;
}

/** The names of the buses QEMU's chipsets create. */
const BUS_NAME = /^(pci|pcie)\.\d+$/;

export const sourceChecks: readonly Check<SourceContext>[] = [
  {
    id: 'duplicate-property',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const u of propertyUses(ctx.machine)) {
        if (u.first) report(`${u.p.key.name} is set twice in ${u.where}`, u.p.key.span, 'remove one of them', [{ message: 'first set here', file: ctx.machine.file, span: u.first.key.span }]);
      }
    },
  },
  {
    id: 'unknown-property',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const u of propertyUses(ctx.machine)) {
        if (u.first || specOf(u)) continue;
        const known = Object.keys(u.allowed);
        const all = known.length > 40 ? `see \`${chipsets[ctx.machine.chipset].qemuBinary} -cpu help\` for CPUID flags; Hyper-V enlightenments are hv-relaxed, hv-vapic, hv-time, hv-spinlocks, …` : `known properties: ${known.sort().join(', ')}`;
        report(`${u.where} has no property ${u.p.key.name}`, u.p.key.span, didYouMean(u.p.key.name, known) ?? (known.length ? all : 'it takes no properties'));
      }
    },
  },
  {
    id: 'property-type',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const u of propertyUses(ctx.machine)) {
        const spec = specOf(u);
        if (u.first || !spec || !u.p.value) continue;
        const problem = checkValue(u.p.value, spec);
        if (problem) report(`${u.p.key.name}: ${problem}`, u.p.value.span, typeHint(u.p.key.name, u.p.value, spec) ?? spec.doc);
      }
    },
  },
  {
    id: 'typed-block',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const { kind, v, name, type } of typedBlocks(ctx.machine)) {
        for (const key of type.required ?? []) if (!v.properties.some((q) => q.key.name === key)) report(`${kind} ${name.name} needs ${key}`, name.span, `add \`${key} = "…"\` to the block`);
      }
    },
  },
  {
    id: 'unknown-chipset',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('chipset')?.value;
      if (v?.kind === 'Identifier' && !chipsetOfMachineType(v.name)) {
        report(`unknown chipset ${v.name}`, v.span, didYouMean(v.name, chipsetNames) ?? 'use pc (i440FX), q35, or a versioned type such as pc-q35-7.2');
      }
    },
  },
  {
    id: 'memory-size',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('memory')?.value;
      if (v?.kind === 'Size' && (v.bytes % (1024 * 1024) !== 0 || v.bytes === 0)) {
        report(`memory must be a whole number of megabytes, not ${v.text}`, v.span, 'write it as e.g. 512M or 4G');
      }
    },
  },
  {
    id: 'uuid-format',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('uuid')?.value;
      if (v?.kind === 'String' && !UUID.test(v.value)) report(`"${v.value}" is not a UUID`, v.span, 'write it as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex, or leave it out and machinec generates and locks one');
    },
  },
  {
    id: 'unknown-model',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        if (!d.spec) report(`unknown device model ${d.model}`, d.modelSpan, didYouMean(d.model, Object.keys(catalog)) ?? 'machinec knows: ' + Object.keys(catalog).sort().join(', '));
      }
    },
  },
  {
    id: 'invalid-id',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        if (!isDeviceId(d.id)) report(`${d.id} is not a valid QEMU id`, d.idSpan, DEVICE_ID_RULE);
      }
    },
  },
  {
    id: 'reserved-id',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        if (BUS_NAME.test(d.id) || d.id === 'ide') report(`${d.id} is the name of a bus QEMU creates itself`, d.idSpan, 'choose another id: pci.N, pcie.N and ide (whose buses are ide.N) belong to the chipset');
      }
    },
  },
  {
    id: 'id-is-a-property',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        if (busOwnerProperties[d.model]?.has(d.id)) report(`${d.id} is the name of one of ${d.model}'s own properties, and a ${d.model} names its bus after its id: QEMU aborts on it`, d.idSpan, `choose another id, e.g. ${d.id}1`);
      }
    },
  },
  {
    id: 'duplicate-id',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const seen = new Map<string, DeviceSpec>();
      for (const d of ctx.machine.devices) {
        const first = seen.get(d.id);
        if (first) report(`device id ${d.id} is used twice`, d.idSpan, 'ids name devices in the guest and in the lock: give each device its own', [{ message: 'first used here', file: ctx.machine.file, span: first.idSpan }]);
        else seen.set(d.id, d);
      }
    },
  },
  {
    id: 'chipset-model',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        if (d.spec?.chipsets && !d.spec.chipsets.includes(ctx.machine.chipset)) {
          report(`${d.model} needs a PCI Express machine (${d.spec.chipsets.join(', ')}), but this one is ${ctx.machine.chipset}`, d.modelSpan, chipsets[ctx.machine.chipset].rootBusKind === 'pci' ? `use pci-bridge on ${ctx.machine.chipset}, or set chipset = ${d.spec.chipsets[0]}` : undefined);
        }
      }
    },
  },
  {
    id: 'wrong-bus',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        if (!d.spec) continue;
        const needs = childBusOf[d.spec.plug];
        const parent = d.parent?.spec;
        if (!d.parent) {
          if (needs && needs !== 'ide') {
            const controllers = Object.entries(catalog).filter(([, s]) => s.provides === needs).map(([m]) => m);
            report(`${d.model} plugs into a ${needs} bus; it cannot sit on the machine's PCI bus`, d.modelSpan, `nest it in a ${controllers.join(' or ')} device`);
          }
          continue;
        }
        if (!parent) continue;
        if (!parent.provides) {
          report(`${d.parent.id} (${d.parent.model}) provides no bus, so ${d.id} cannot be nested in it`, d.modelSpan, `move ${d.id} out of ${d.parent.id}'s block, to the top level or into a controller`);
        } else if (needs ? parent.provides !== needs : parent.provides !== 'pci' && parent.provides !== 'pcie-port') {
          const what = needs ?? 'PCI';
          report(`${d.model} needs a ${what} bus, but ${d.parent.id} (${d.parent.model}) provides a ${parent.provides} bus`, d.modelSpan, needs ? `nest it in a ${Object.entries(catalog).filter(([, s]) => s.provides === needs).map(([m]) => m).join(' or ')}` : 'move it to the top level or into a bridge');
        }
      }
    },
  },
  {
    id: 'bus-capacity',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        const cap = capacityOf(d);
        if (cap !== undefined && d.children.length > cap) {
          report(`${d.id} (${d.model}) holds at most ${cap} device${cap === 1 ? '' : 's'}, but ${d.children.length} are nested in it`, d.children[cap].idSpan, d.spec?.capacityProps ? `set ${d.spec.capacityProps.join(' or ')} (up to 15 ports), or add another USB controller` : d.spec?.provides === 'usb' ? 'add another USB controller' : d.spec?.provides === 'pcie-port' ? 'a root port holds one device: declare another pcie-root-port, or move the device to the top level and machinec adds one' : 'add another controller');
        }
      }
    },
  },
  {
    id: 'missing-backend',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        const backend = d.spec?.backend;
        const has = (key: string): boolean => d.node.properties.some((p) => p.key.name === key);
        const need = backend === 'netdev' ? 'netdev' : backend === 'block' ? 'file' : backend === 'chardev' ? 'chardev' : undefined;
        if (need && !has(need)) {
          const example = { netdev: 'netdev = user', file: 'file = "disk.qcow2"', chardev: 'chardev = pty' }[need];
          report(`${d.id} (${d.model}) needs a ${need === 'file' ? 'disk image' : need} backend`, d.idSpan, `add \`${example}\` to its block`);
        }
        if (d.model === 'vfio-pci' && !has('host')) report(`${d.id} (vfio-pci) needs the host device to pass through`, d.idSpan, 'add `host = "0000:01:00.0"`');
      }
    },
  },
  {
    id: 'backend-type',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        for (const p of d.node.properties) {
          const types = BACKEND_TYPES[p.key.name];
          const v = p.value;
          if (!types || !v || !d.spec?.backend) continue;
          const name = v.kind === 'Identifier' ? v.name : v.kind === 'Block' ? v.type?.name ?? '' : undefined;
          if (name !== undefined && !types.includes(name)) report(`unknown ${p.key.name} type ${name}`, v.span, didYouMean(name, types) ?? `use one of ${types.join(', ')}`);
        }
      }
    },
  },
  {
    id: 'readonly-ide-hd',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        const ro = d.model === 'ide-hd' ? d.node.properties.find((p) => p.key.name === 'readonly') : undefined;
        if (ro?.value?.kind === 'Boolean' && ro.value.value) report(`${d.id}: QEMU's ide-hd cannot use a read-only disk`, ro.value.span, 'use ide-cd for read-only media, or scsi-hd (which takes readonly = true) on a virtio-scsi-pci controller');
      }
    },
  },
  {
    id: 'bad-address',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        const a = d.node.address;
        if (!a) continue;
        if (d.spec && childBusOf[d.spec.plug]) {
          report(`${d.model} is not a PCI device, so it takes no @ address`, a.span, 'remove the @ address; machinec numbers its port and locks it');
          continue;
        }
        if (!d.address) {
          const m = /^([0-9a-fA-F]+)(?:\.([0-9a-fA-F]+))?$/.exec(a.text);
          const why = !m ? 'an address is a hex slot and function, e.g. 05.0' : parseInt(m[1], 16) > 0x1f ? `slot ${m[1]} is out of range: a PCI bus has 32 slots, 00 to 1f` : `function ${m[2]} is out of range: a slot has 8 functions, 0 to 7`;
          report(`bad PCI address @ ${a.text}`, a.span, why);
          continue;
        }
        if (d.parent?.spec?.provides === 'pcie-port' && d.address.slot !== 0) report(`a root port has one slot, 00; ${a.text} is not on it`, a.span, 'use @ 00.0 or leave the address out');
      }
    },
  },
  {
    id: 'reserved-address',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const d of ctx.machine.devices) {
        const a = d.node.address;
        if (!a || !d.address || (d.spec && childBusOf[d.spec.plug])) continue;
        if (!d.parent) {
          const chip = chipsets[ctx.machine.chipset];
          const builtin = chip.builtins.find((b) => b.slot === d.address!.slot && b.fn === d.address!.fn);
          if (builtin) report(`${chip.rootBus} ${formatAddress(d.address)} is the ${builtin.what}, built into ${ctx.machine.chipset}`, a.span, `choose another slot; built-ins use ${[...new Set(chip.builtins.map((b) => formatAddress({ slot: b.slot, fn: 0 }).slice(0, 2)))].join(' and ')}`);
        } else if (d.parent.spec?.provides === 'pci' && d.address.slot === 0) {
          report(`slot 00 of ${d.parent.id} (${d.parent.model}) is reserved for its hotplug controller`, a.span, 'use slots 01 to 1f behind a bridge');
        }
      }
    },
  },
  {
    id: 'address-conflict',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const seen = new Map<string, DeviceSpec>();
      for (const d of ctx.machine.devices) {
        if (!d.address) continue;
        const key = `${d.parent?.id ?? ''}/${formatAddress(d.address)}`;
        const first = seen.get(key);
        if (first) report(`${d.id} and ${first.id} both ask for ${formatAddress(d.address)} on ${d.parent ? d.parent.id : 'the root bus'}`, d.node.address!.span, 'give one of them another address, or drop its @ and let machinec place it', [{ message: `${first.id} asks for it here`, file: ctx.machine.file, span: first.node.address!.span }]);
        else seen.set(key, d);
      }
    },
  },
  ...valueChecks,
  ...vmChecks,
];

export function runSourceChecks(machine: MachineSpec): Diagnostic[] {
  if (!machine.node?.name) return [];
  return runRegistered(sourceChecks, { machine }, machine.file);
}
