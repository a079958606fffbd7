/** QEMU's `info qtree` (HMP) parsed into devices and buses: the whole qdev tree in one answer. */

export interface QtreeDevice {
  readonly type: string;
  readonly id: string;
  /** `key = value` lines, values unquoted (`"…"` strings) and numbers without their `(0x…)`. */
  readonly props: Map<string, string>;
  /** The other lines: `class …, addr 00:03.0, pci id 8086:100e …`, `addr 0.1, port 1, …` on USB. */
  readonly info: string[];
  readonly buses: QtreeBus[];
}

export interface QtreeBus {
  readonly name: string;
  type: string;
  readonly devices: QtreeDevice[];
}

function value(raw: string): string {
  if (raw.startsWith('"') && raw.endsWith('"')) {
    try {
      return JSON.parse(raw) as string;
    } catch {
      return raw.slice(1, -1);
    }
  }
  const num = /^(-?\d+) \(0x[0-9a-f]+\)$/.exec(raw);
  return num ? num[1] : raw;
}

/** The root bus (main-system-bus) with everything below it. */
export function parseQtree(text: string): QtreeBus {
  const root: QtreeBus = { name: 'main-system-bus', type: 'System', devices: [] };
  const stack: { indent: number; node: QtreeBus | QtreeDevice; bus: boolean }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (!raw.trim()) continue;
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    const top = stack[stack.length - 1];
    const bus = /^bus: (\S+)$/.exec(line);
    if (bus) {
      if (!top) {
        stack.push({ indent, node: root, bus: true });
        continue;
      }
      if (top.bus) continue;
      const b: QtreeBus = { name: bus[1], type: '', devices: [] };
      (top.node as QtreeDevice).buses.push(b);
      stack.push({ indent, node: b, bus: true });
      continue;
    }
    const dev = /^dev: (\S+), id "(.*)"$/.exec(line);
    if (dev && top?.bus) {
      const d: QtreeDevice = { type: dev[1], id: dev[2], props: new Map(), info: [], buses: [] };
      (top.node as QtreeBus).devices.push(d);
      stack.push({ indent, node: d, bus: false });
      continue;
    }
    if (!top) continue;
    if (top.bus) {
      const t = /^type (\S+)$/.exec(line);
      if (t) (top.node as QtreeBus).type = t[1];
      continue;
    }
    const d = top.node as QtreeDevice;
    const prop = /^([^\s=]+) = (.*)$/.exec(line);
    if (prop) d.props.set(prop[1], value(prop[2]));
    else d.info.push(line);
  }
  return root;
}

/** Every device in the tree, depth first. */
export function* allDevices(bus: QtreeBus): Generator<QtreeDevice> {
  for (const d of bus.devices) {
    yield d;
    for (const b of d.buses) yield* allDevices(b);
  }
}
