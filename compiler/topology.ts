/**
 * The bus tree of a placed machine, as data for pictures (`machinec graph`, the plan's mermaid
 * diagram): the root bus, the chipset's own disk buses, and every device under the controller
 * whose bus it plugs into. A plan's tree is the machine after the change with the removed devices
 * put back where they were, each node marked with what happens to it.
 */
import { chipsets } from './chipsets.js';
import { formatGuestAddress } from './lockfile.js';
import { SYSTEM_BUS } from './place/state.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { describePlace, type ChangeSign, type Plan } from './plan.js';

export type NodeMark = 'added' | 'removed' | 'moved' | 'changed' | 'renamed';

export interface TopologyNode {
  /** Unique in the tree: the device id, or the bus name for bus nodes. */
  readonly key: string;
  readonly kind: 'bus' | 'device';
  /** Device id or bus name. */
  readonly title: string;
  /** Model; for a bus, what it is. */
  readonly subtitle: string;
  /** Guest address (`00:02.0`), or the place on a non-PCI bus (`usb.0 port 1`); for a bridge, `bus N` behind it is added. */
  readonly address: string;
  /** Created by machinec (root ports, bridges) rather than written in the source. */
  readonly auto: boolean;
  readonly mark?: NodeMark;
  readonly children: TopologyNode[];
}

const MARKS: Record<ChangeSign, NodeMark> = { '+': 'added', '-': 'removed', '!': 'moved', '~': 'changed' };

/** Where a device is, short: `00:02.0`, `usb.0 port 1`. */
export function shortPlace(d: PlacedDevice): string {
  if (d.guest) return formatGuestAddress(d.guest) + (d.secondaryBus !== undefined ? ` → bus ${d.secondaryBus.toString(16).padStart(2, '0')}` : '');
  return describePlace(d);
}

/** The device tree of `machine`; `marks` by device id, `extra` devices (removed ones) put back under their old parent. */
export function topologyOf(machine: PlacedMachine, marks: ReadonlyMap<string, NodeMark> = new Map(), extra: readonly PlacedDevice[] = []): TopologyNode {
  const chip = chipsets[machine.chipset];
  const all = [...machine.devices, ...extra];
  const ids = new Set(all.map((d) => d.id));
  const nodes = new Map<string, TopologyNode>();
  const rootBus: TopologyNode = { key: `bus:${chip.rootBus}`, kind: 'bus', title: chip.rootBus, subtitle: chip.rootBusKind === 'pcie' ? 'PCI Express root bus' : 'PCI root bus', address: 'bus 00', auto: false, children: [] };
  const chipsetBus = new Map<string, TopologyNode>();
  for (const d of all) {
    nodes.set(d.id, { key: d.id, kind: 'device', title: d.id, subtitle: d.model, address: shortPlace(d), auto: d.auto, mark: marks.get(d.id), children: [] });
  }
  const parentOf = (d: PlacedDevice): TopologyNode => {
    const owner = ids.has(d.bus) ? d.bus : ids.has(d.bus.replace(/\.\d+$/, '')) ? d.bus.replace(/\.\d+$/, '') : undefined;
    if (owner) return nodes.get(owner)!;
    if (d.bus === chip.rootBus) return rootBus;
    let bus = chipsetBus.get(d.bus);
    if (!bus) {
      // the system bus is the machine itself (vmgenid, the TPM): not a disk controller of the chipset
      const subtitle = d.bus === SYSTEM_BUS
        ? 'system bus (the machine itself)'
        : `chipset ${chip.diskController.libvirtType.toUpperCase()} (${formatGuestAddress({ bus: 0, ...chip.diskController.addr })})`;
      bus = { key: `bus:${d.bus}`, kind: 'bus', title: d.bus, subtitle, address: 'built in', auto: false, children: [] };
      chipsetBus.set(d.bus, bus);
      rootBus.children.push(bus);
    }
    return bus;
  };
  for (const d of all) parentOf(d).children.push(nodes.get(d.id)!);
  return rootBus;
}

/** The tree a plan shows: the new machine, the removed devices where they were, every change marked. */
export function planTopology(plan: Plan, after: PlacedMachine): TopologyNode {
  const marks = new Map<string, NodeMark>();
  for (const c of plan.changes) marks.set(c.id, c.renamedFrom ? 'renamed' : MARKS[c.sign]);
  const removed = plan.changes.filter((c) => c.sign === '-' && c.before).map((c) => c.before!);
  return topologyOf(after, marks, removed);
}

/** Every node, parents before children. */
export function* walkTopology(node: TopologyNode): Generator<TopologyNode> {
  yield node;
  for (const c of node.children) yield* walkTopology(c);
}
