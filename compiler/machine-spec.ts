/**
 * The machine as the source describes it, resolved against the catalog but not yet placed.
 * `resolve` builds it best-effort from any tree the parser returns; the checks judge it.
 */
import type { DeviceNode, Identifier, MachineNode, Property, Span, Value } from '../grammar/index.js';
import { catalog, type ModelSpec } from './catalog.js';
import { chipsetOfMachineType, DEFAULT_CHIPSET } from './chipsets.js';
import type { Chipset, PciAddress } from './model.js';
import { hex2 } from './text.js';

export interface DeviceSpec {
  readonly id: string;
  readonly idSpan: Span;
  readonly model: string;
  readonly modelSpan: Span;
  /** Undefined for a model the catalog does not know. */
  readonly spec?: ModelSpec;
  readonly node: DeviceNode;
  readonly parent?: DeviceSpec;
  readonly children: DeviceSpec[];
  /** An explicit `@ SS.F`, when it parses. */
  readonly address?: PciAddress;
}

export interface MachineSpec {
  readonly file: string;
  readonly node?: MachineNode;
  readonly name: string;
  /** From `chipset =`; q35 when absent or unknown (a check reports unknown ones). */
  readonly chipset: Chipset;
  /** When the source names a versioned machine type (`pc-q35-7.2`) rather than an alias. */
  readonly machineType?: string;
  readonly properties: ReadonlyMap<string, Property>;
  /** Every device, parents before children, in source order. */
  readonly devices: readonly DeviceSpec[];
  readonly topLevel: readonly DeviceSpec[];
}

const ADDRESS = /^([0-9a-fA-F]{1,2})(?:\.([0-7]))?$/;
const hexDigit = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

/** `05.0` or `5` (function 0) in hex: slot 0..1f, function 0..7. Undefined when malformed. */
export function parseAddress(text: string): PciAddress | undefined {
  // `SS.F`, as every lock line and most sources write it, without a regexp.
  if (text.length === 4 && text.charCodeAt(2) === 46) {
    const hi = hexDigit(text.charCodeAt(0));
    const lo = hexDigit(text.charCodeAt(1));
    const fn = text.charCodeAt(3) - 48;
    if (hi >= 0 && lo >= 0 && fn >= 0 && fn <= 7) {
      const slot = hi * 16 + lo;
      return slot < 32 ? { slot, fn } : undefined;
    }
    return undefined;
  }
  const m = ADDRESS.exec(text);
  if (!m) return undefined;
  const slot = parseInt(m[1], 16);
  return slot < 32 ? { slot, fn: m[2] ? Number(m[2]) : 0 } : undefined;
}

/** How many devices a controller takes on its bus, with properties such as qemu-xhci's p2/p3 applied. */
export function capacityOf(d: DeviceSpec): number | undefined {
  const spec = d.spec;
  if (!spec) return undefined;
  if (spec.provides === 'pcie-port') return 1;
  const set = (spec.capacityProps ?? []).map((k) => d.node.properties.find((p) => p.key.name === k)?.value).filter((v) => v?.kind === 'Integer');
  return set.length ? Math.max(...set.map((v) => (v as { value: number }).value)) : spec.capacity;
}

export function formatAddress(a: PciAddress): string {
  return `${hex2(a.slot)}.${a.fn}`;
}

const nameOf = (v: Value | undefined): string | undefined => (v?.kind === 'Identifier' ? v.name : v?.kind === 'String' ? v.value : undefined);

export function resolve(machine: MachineNode | undefined, file: string): MachineSpec {
  const properties = new Map<string, Property>();
  for (const p of machine?.properties ?? []) if (p.key.name && !properties.has(p.key.name)) properties.set(p.key.name, p);
  const chipsetWord = nameOf(properties.get('chipset')?.value) ?? DEFAULT_CHIPSET;
  const chipset = chipsetOfMachineType(chipsetWord) ?? DEFAULT_CHIPSET;
  const devices: DeviceSpec[] = [];
  const build = (node: DeviceNode, parent: DeviceSpec | undefined): DeviceSpec | undefined => {
    if (!node.id || !node.model) return undefined;
    const model = node.model.name;
    const spec: DeviceSpec = {
      id: node.id.name,
      idSpan: node.id.span,
      model,
      modelSpan: node.model.span,
      spec: Object.hasOwn(catalog, model) ? catalog[model] : undefined,
      node,
      parent,
      children: [],
      address: node.address && parseAddress(node.address.text),
    };
    devices.push(spec);
    for (const child of node.devices) {
      const c = build(child, spec);
      if (c) spec.children.push(c);
    }
    return spec;
  };
  const topLevel = (machine?.devices ?? []).map((d) => build(d, undefined)).filter((d): d is DeviceSpec => d !== undefined);
  return {
    file,
    node: machine,
    name: machine?.name?.name ?? 'machine',
    chipset,
    machineType: chipsetWord === chipset ? undefined : chipsetWord,
    properties,
    devices,
    topLevel,
  };
}

export type { Identifier };
