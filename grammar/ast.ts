/**
 * The plain, typed syntax tree of a .machine file. Every node has a `kind` and the exact
 * source span it came from; comments are kept beside the tree for the formatter.
 * Nodes that error recovery left incomplete have their missing parts undefined.
 */
import type { Span } from './diagnostic.js';

export interface Identifier {
  readonly kind: 'Identifier';
  readonly name: string;
  readonly span: Span;
}

export interface StringValue {
  readonly kind: 'String';
  /** The unescaped contents. */
  readonly value: string;
  readonly span: Span;
}

export interface IntegerValue {
  readonly kind: 'Integer';
  readonly value: number;
  /** As written, e.g. `0x1f`, so the formatter keeps the author's base. */
  readonly text: string;
  readonly span: Span;
}

export interface SizeValue {
  readonly kind: 'Size';
  /** In bytes. */
  readonly bytes: number;
  readonly text: string;
  readonly span: Span;
}

export interface BooleanValue {
  readonly kind: 'Boolean';
  readonly value: boolean;
  readonly span: Span;
}

export interface ListValue {
  readonly kind: 'List';
  readonly items: readonly Value[];
  readonly span: Span;
}

/** `tap { ifname = "tap0" }`: a named type with its own properties; `{ sockets = 1 }`: a block without a type. */
export interface BlockValue {
  readonly kind: 'Block';
  readonly type?: Identifier;
  readonly properties: readonly Property[];
  readonly span: Span;
}

export type Value = Identifier | StringValue | IntegerValue | SizeValue | BooleanValue | ListValue | BlockValue;

export interface Property {
  readonly kind: 'Property';
  readonly key: Identifier;
  readonly value?: Value;
  readonly span: Span;
}

/** `@ 05.0`: a slot and function on the parent bus, validated by the checker. */
export interface AddressNode {
  readonly kind: 'Address';
  readonly text: string;
  readonly span: Span;
}

export interface DeviceNode {
  readonly kind: 'Device';
  readonly id?: Identifier;
  readonly model?: Identifier;
  readonly address?: AddressNode;
  readonly properties: readonly Property[];
  readonly devices: readonly DeviceNode[];
  /** Properties and devices in source order, for the formatter. */
  readonly members: readonly (Property | DeviceNode)[];
  /** Whether the device was written with a `{ … }` body. */
  readonly hasBody: boolean;
  readonly span: Span;
}

export interface MachineNode {
  readonly kind: 'Machine';
  readonly name?: Identifier;
  readonly properties: readonly Property[];
  readonly devices: readonly DeviceNode[];
  readonly members: readonly (Property | DeviceNode)[];
  readonly span: Span;
}

export interface Comment {
  readonly kind: 'Comment';
  readonly text: string;
  readonly block: boolean;
  readonly span: Span;
}

export interface MachineFile {
  readonly kind: 'File';
  readonly machine?: MachineNode;
  readonly comments: readonly Comment[];
  readonly span: Span;
}

export type Node = MachineFile | MachineNode | DeviceNode | Property | Value | AddressNode | Comment;

/** Every device of the machine, parents before children, in source order. */
export function* walkDevices(devices: readonly DeviceNode[]): Generator<DeviceNode> {
  for (const device of devices) {
    yield device;
    yield* walkDevices(device.devices);
  }
}
