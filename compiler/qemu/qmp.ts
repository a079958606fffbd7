/**
 * QMP's JSON arguments for the commands that add what the machine model holds: `device_add`,
 * `netdev_add`, `blockdev-add`, `chardev-add` and `object-add`. Values are typed as QMP wants
 * them (numbers, booleans, nested objects for dotted keys), from the same model as the command line.
 */
import type { QemuBackend, QemuDevice, QemuProp } from './model.js';

export type JsonValue = string | number | boolean | JsonObject | JsonValue[];
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A property's value in JSON: a number, a boolean (`on`/`off`) or text. */
export function jsonValue(p: QemuProp): JsonValue {
  const [, value, type] = p;
  if (type === 'int' && /^-?\d+$/.test(value)) return Number(value);
  if (type === 'bool' && (value === 'on' || value === 'off')) return value === 'on';
  return value;
}

/** Properties into `into`; a dotted key (`file.filename`) is a nested object, a later key wins as on QEMU's command line. */
function assign(into: JsonObject, props: readonly QemuProp[], skip: ReadonlySet<string> = new Set()): JsonObject {
  for (const p of props) {
    if (skip.has(p[0])) continue;
    const path = p[0].split('.');
    let at = into;
    for (const part of path.slice(0, -1)) {
      const next = at[part];
      at = (at[part] = typeof next === 'object' && !Array.isArray(next) ? next : {}) as JsonObject;
    }
    at[path[path.length - 1]] = jsonValue(p);
  }
  return into;
}

/** `device_add`: driver, id, bus, addr, then the device's properties. */
export function deviceAdd(d: QemuDevice): JsonObject {
  const out: JsonObject = { driver: d.driver, id: d.id };
  if (d.bus !== undefined) out.bus = d.bus;
  if (d.addr !== undefined) out.addr = d.addr;
  const fixed = new Set(['driver', 'id', 'bus', 'addr']);
  return assign(assign(out, d.props, fixed), d.own, fixed);
}

/** Keys a netdev may give more than once, each a list of `{ "str": … }` in QMP. */
const NETDEV_LISTS = new Set(['hostfwd', 'guestfwd']);

/** `netdev_add`: type, id and the netdev's options (`hostfwd` repeated becomes a list). */
export function netdevAdd(b: QemuBackend): JsonObject {
  const out: JsonObject = { type: b.type ?? '', id: b.id };
  const lists = new Map<string, JsonValue[]>();
  for (const p of b.props) {
    if (p[0] === 'id') continue;
    if (!NETDEV_LISTS.has(p[0])) assign(out, [p]);
    else if (lists.has(p[0])) lists.get(p[0])!.push({ str: p[1] });
    else lists.set(p[0], (out[p[0]] = [{ str: p[1] }]));
  }
  return out;
}

/** `blockdev-add`: the node's options, `file.*` as the nested protocol node. */
export const blockdevAdd = (b: QemuBackend): JsonObject => assign({}, b.props);

/** How `chardev-add` addresses a socket: a Unix path, else host and port. */
function socketAddress(props: readonly QemuProp[]): JsonObject {
  const get = (k: string) => props.find((p) => p[0] === k)?.[1];
  const path = get('path');
  return path !== undefined ? { type: 'unix', data: { path } } : { type: 'inet', data: { host: get('host') ?? 'localhost', port: get('port') ?? '' } };
}

/** `chardev-add`: id and the backend's type and data (a socket's address nested, a file's path as `out`, a SPICE channel's name as `type`). */
export function chardevAdd(b: QemuBackend): JsonObject {
  const type = b.type ?? '';
  const rest = b.props.filter((p) => p[0] !== 'id');
  let data: JsonObject;
  if (type === 'socket') data = assign({ addr: socketAddress(rest) }, rest, new Set(['path', 'host', 'port']));
  else if (type === 'file') data = assign({}, rest.map((p): QemuProp => (p[0] === 'path' ? ['out', p[1]] : p)));
  else if (type === 'spicevmc') data = assign({}, rest.map((p): QemuProp => (p[0] === 'name' ? ['type', p[1]] : p)));
  else data = assign({}, rest);
  return { id: b.id, backend: { type, data } };
}

/** `object-add`: the QOM type, id and the object's properties. */
export function objectAdd(qomType: string, id: string, props: readonly QemuProp[]): JsonObject {
  return assign({ 'qom-type': qomType, id }, props, new Set(['id']));
}

/** The QMP command that adds a backend, with its arguments; undefined for a backend QMP cannot add (tpmdev, fsdev, audiodev). */
export function backendAdd(b: QemuBackend): { execute: string; arguments: JsonObject } | undefined {
  switch (b.option) {
    case 'netdev': return { execute: 'netdev_add', arguments: netdevAdd(b) };
    case 'blockdev': return { execute: 'blockdev-add', arguments: blockdevAdd(b) };
    case 'chardev': return { execute: 'chardev-add', arguments: chardevAdd(b) };
    default: return undefined;
  }
}
