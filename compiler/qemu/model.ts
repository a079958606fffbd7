/**
 * The QEMU machine as machinec starts it, made once after placement and pins: the machine's own
 * options, every backend (with the device that owns it) and every device (driver, id, bus, addr
 * and its properties in order). The command line, the lock's records, libvirt's
 * `<qemu:commandline>` and QMP's JSON are all printed from it; none of them reads another back.
 */
import type { BackendOption } from './backend-ids.js';
import { keyvalText, type KeyvalPairs } from './keyval.js';

/** How QMP's JSON types a property: QEMU's keyval parser reads every value as text, JSON does not. */
export type PropType = 'str' | 'int' | 'bool';

/** A property: key, the value as QEMU's option parser reads it (`on`/`off`, bytes), and its JSON type (text when left out). */
export type QemuProp = readonly [key: string, value: string, type?: PropType];

/** A machine-wide option (`-machine q35,smm=on`, `-m 1024M`, `-smp 2,sockets=1`, `-nodefaults`). */
export interface QemuOption {
  readonly kind: 'option';
  /** With its dash: `-machine`. */
  readonly option: string;
  /** The value's leading part (`q35`, `1024M`); none for a value of pairs only (`-drive if=pflash,…`). */
  readonly head?: string;
  readonly pairs: KeyvalPairs;
  /** An option that takes no value (`-nodefaults`). */
  readonly flag?: true;
}

/** A backend: `-netdev user,id=net-nic0`, `-blockdev driver=qcow2,node-name=drive-disk0,…`. */
export interface QemuBackend {
  readonly kind: 'backend';
  readonly option: BackendOption;
  /** The backend's type as the value's leading part (`user`, `socket`); none for -blockdev (its `driver` is a property). */
  readonly type?: string;
  /** The id (or node-name) QEMU knows it by. */
  readonly id: string;
  /** The device it belongs to. */
  readonly owner: string;
  /** Every property in order, its id (or node-name) included where QEMU reads it. */
  readonly props: readonly QemuProp[];
}

/** A `-device`: driver, id, where it sits, and its other properties in order. */
export interface QemuDevice {
  readonly kind: 'device';
  readonly driver: string;
  readonly id: string;
  readonly bus?: string;
  readonly addr?: string;
  /** What machinec sets: multifunction, the pinned values, the backends it names. */
  readonly props: readonly QemuProp[];
  /** The device's own properties from the source (`bootindex = 1`), after those. */
  readonly own: readonly QemuProp[];
}

/** The machine's `qemu-args`, passed on as the user wrote them. */
export interface QemuRaw {
  readonly kind: 'raw';
  readonly args: readonly string[];
}

export type QemuArg = QemuOption | QemuBackend | QemuDevice | QemuRaw;

/** Everything in command-line order. */
export interface QemuModel {
  readonly args: readonly QemuArg[];
}

export const qemuDevices = (m: QemuModel): QemuDevice[] => m.args.filter((a): a is QemuDevice => a.kind === 'device');
export const qemuBackends = (m: QemuModel): QemuBackend[] => m.args.filter((a): a is QemuBackend => a.kind === 'backend');

/** A machine option's record. */
export const option = (name: string, head?: string, pairs: KeyvalPairs = []): QemuOption => ({ kind: 'option', option: name, head, pairs });
export const flag = (name: string): QemuOption => ({ kind: 'option', option: name, pairs: [], flag: true });

/** An option's value as written on the command line (undefined for a flag). */
export function optionValue(a: QemuOption | QemuBackend): string | undefined {
  if (a.kind === 'backend') return keyvalText(a.type, a.props);
  return a.flag ? undefined : keyvalText(a.head, a.pairs);
}

/** The properties of a `-device` as QEMU reads them, id, bus and addr first. */
export function devicePairs(d: QemuDevice): QemuProp[] {
  const out: QemuProp[] = [['id', d.id]];
  if (d.bus !== undefined) out.push(['bus', d.bus]);
  if (d.addr !== undefined) out.push(['addr', d.addr]);
  for (const p of d.props) out.push(p);
  for (const p of d.own) out.push(p);
  return out;
}

/** The `-device` value: `virtio-net-pci,id=nic0,bus=pcie.0,addr=02.0,…`. */
export const deviceValue = (d: QemuDevice): string => keyvalText(d.driver, devicePairs(d));
