/**
 * The QEMU machine model and its printers agree: for random machines (disks, NICs, serial ports,
 * SMBIOS strings) whose string properties hold commas, quotes, `=` and backslashes, the command
 * line (read back here by a keyval reader of this spec's own, following QEMU's rules), the lock's
 * records (read back by readLock), QMP's JSON and libvirt's `<qemu:commandline>` JSON (read out of
 * the XML here) carry the same keys and values as the model, commas and quotes included.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compile, exportLibvirt, readLock, type Compilation, type PlacedMachine } from '../compiler/index.js';
import { qemuModel } from '../compiler/emit.js';
import { qemuBackends, qemuDevices, type QemuBackend, type QemuDevice, type QemuModel } from '../compiler/qemu/model.js';
import { backendAdd, deviceAdd, type JsonObject, type JsonValue } from '../compiler/qemu/qmp.js';
import { backendOwner } from '../compiler/plan-options.js';

type Pairs = [string, string][];

const SAMPLES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'samples');

/**
 * An option value as QEMU's option parser reads it (util/qemu-option.c): parts end at a single
 * comma, `,,` is a comma inside the part; a part without `=` is the implied leading value when
 * first (the driver, the backend type), else a bare key meaning key=on.
 */
export function readKeyval(text: string, implied: boolean): { head?: string; pairs: Pairs } {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ',') cur += text[i];
    else if (text[i + 1] === ',') (cur += ','), i++;
    else parts.push(cur), (cur = '');
  }
  parts.push(cur);
  const out: { head?: string; pairs: Pairs } = { pairs: [] };
  parts.forEach((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0 && i === 0 && implied) out.head = p;
    else if (eq < 0) out.pairs.push([p, 'on']);
    else out.pairs.push([p.slice(0, eq), p.slice(eq + 1)]);
  });
  return out;
}

/** Options QEMU takes without a value, in what machinec writes. */
const FLAGS = new Set(['-nodefaults', '-no-user-config']);
const BACKEND_OPTIONS = new Set(['-netdev', '-blockdev', '-chardev', '-audiodev', '-tpmdev', '-fsdev']);

/** The command line as options and values. */
function options(argv: readonly string[]): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  for (let i = 0; i < argv.length; i++) out.push(FLAGS.has(argv[i]) ? [argv[i], undefined] : [argv[i], argv[++i]]);
  return out;
}

/** A model device's properties as [key, value], id, bus and addr first. */
function modelPairs(d: QemuDevice): Pairs {
  const out: Pairs = [['id', d.id]];
  if (d.bus !== undefined) out.push(['bus', d.bus]);
  if (d.addr !== undefined) out.push(['addr', d.addr]);
  return [...out, ...[...d.props, ...d.own].map(([k, v]): [string, string] => [k, v])];
}
/** What a key ends as when given twice: the last value, at the first one's place. */
const lastWins = (pairs: Pairs): Pairs => [...new Map(pairs)];

/** A JSON value as the text QEMU's option parser would have read: on/off, decimal numbers. */
const asText = (v: JsonValue): string => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));

/** Nested JSON objects as dotted keys (`{file: {filename}}` → file.filename); lists repeat their key. */
function flatten(o: JsonObject, prefix = ''): Pairs {
  return Object.entries(o).flatMap(([k, v]): Pairs => {
    const item = (x: JsonValue): string => (typeof x === 'object' && !Array.isArray(x) ? asText(x.str) : asText(x));
    if (Array.isArray(v)) return v.map((x) => [prefix + k, item(x)]);
    return typeof v === 'object' ? flatten(v, `${prefix}${k}.`) : [[prefix + k, asText(v)]];
  });
}

function checkArgv(model: QemuModel, argv: readonly string[]): void {
  const devices = options(argv).filter(([o]) => o === '-device').map(([, v]) => readKeyval(v!, true));
  expect(devices.map((d) => [d.head, d.pairs])).toEqual(qemuDevices(model).map((d) => [d.driver, modelPairs(d)]));
  const backends = options(argv).filter(([o]) => BACKEND_OPTIONS.has(o)).map(([o, v]) => [o, readKeyval(v!, o !== '-blockdev')] as const);
  expect(backends.map(([o, b]) => [o, b.head, b.pairs])).toEqual(qemuBackends(model).map((b) => [`-${b.option}`, b.type, b.props.map(([k, v]) => [k, v])]));
}

/** Keys the lock's device line says itself (placement, pins, backend names), so its `props` leaves them out. */
const LINE_KEYS = new Set([
  ...['id', 'bus', 'addr', 'multifunction', 'chassis', 'port', 'chassis_nr', 'mac', 'serial', 'disable-legacy', 'shpc', 'io-reserve'],
  ...['channel', 'scsi-id', 'lun', 'unit', 'nr', 'cad', 'netdev', 'drive', 'chardev', 'audiodev', 'acpi-index', 'guid', 'tpmdev', 'fsdev'],
]);

function checkLock(model: QemuModel, argv: readonly string[], lockText: string): void {
  const read = readLock(lockText, 'm.machine.lock');
  expect(read.diagnostics).toEqual([]);
  const lock = read.lock as PlacedMachine;
  // Every option but the header's and the devices', with its value as QEMU gets it.
  const header = new Set(['-name', '-machine', '-uuid', '-device']);
  expect(lock.options).toEqual(options(argv).filter(([o]) => !header.has(o)).map(([o, v]) => [o, v ?? '']));
  for (const d of qemuDevices(model)) {
    const locked = lock.devices.find((x) => x.id === d.id);
    if (!locked) continue; // the serial console's isa-serial is the machine's, not a device of the lock
    const props = locked.props === undefined ? [] : readKeyval(locked.props, false).pairs;
    expect(props).toEqual(lastWins(modelPairs(d)).filter(([k]) => !LINE_KEYS.has(k)));
    const serial = d.props.find(([k]) => k === 'serial');
    if (serial) expect(locked.pins.serial).toBe(serial[1]);
  }
}

function checkQmp(model: QemuModel): void {
  for (const d of qemuDevices(model)) {
    const json = deviceAdd(d);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect([['driver', d.driver], ...lastWins(modelPairs(d))]).toEqual(flatten(json));
  }
  for (const b of qemuBackends(model)) {
    const cmd = backendAdd(b);
    if (!cmd) continue;
    const props = b.props.map(([k, v]): [string, string] => [k, v]);
    if (cmd.execute === 'netdev_add') expect([['type', b.type], ...props]).toEqual(flatten(cmd.arguments));
    else if (cmd.execute === 'blockdev-add') expect(lastWins(props)).toEqual(flatten(cmd.arguments));
    else checkChardev(b, cmd.arguments);
  }
}

/** chardev-add: the id, the type, and a socket's or file's path where QMP wants it. */
function checkChardev(b: QemuBackend, args: JsonObject): void {
  const get = (k: string) => b.props.find(([key]) => key === k)?.[1];
  const backend = args.backend as JsonObject;
  const data = backend.data as JsonObject;
  expect([args.id, backend.type]).toEqual([get('id'), b.type]);
  if (b.type === 'socket') expect(((data.addr as JsonObject).data as JsonObject).path).toBe(get('path'));
  if (b.type === 'file') expect(data.out).toBe(get('path'));
  if (b.type === 'spicevmc') expect(data.type).toBe(get('name'));
  const renamed = new Set(['out', 'type']);
  for (const [k, v] of flatten(data)) if (!k.startsWith('addr.') && !renamed.has(k)) expect([k, get(k)]).toEqual([k, v]);
}

const XML_ENTITIES: Record<string, string> = { '&quot;': '"', '&apos;': "'", '&lt;': '<', '&gt;': '>', '&amp;': '&' };
/** The `<qemu:arg value='…'/>` values of a domain XML, entities decoded. */
const decode = (attr: string): string => attr.replace(/&(quot|apos|lt|gt|amp);/g, (e) => XML_ENTITIES[e]);
const qemuArgValues = (xml: string): string[] => [...xml.matchAll(/<qemu:arg value='([^']*)'\/>/g)].map((m) => decode(m[1]));

/** libvirt's qemu:commandline: each JSON -device has the command line's properties, under libvirt's names for id and bus. */
function checkLibvirt(b: Compilation, argv: readonly string[]): number {
  const out = exportLibvirt({ spec: b.spec!, machine: b.machine!, baseDir: '/srv/vm', qemuCommandline: true });
  expect(out.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const args = qemuArgValues(out.xml!);
  const read = options(argv).filter(([o]) => o === '-device').map(([, v]) => readKeyval(v!, true));
  const devices = new Map(read.map((d) => [new Map(d.pairs).get('id'), d]));
  let carried = 0;
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] !== '-device') continue;
    const json = JSON.parse(args[i + 1]) as JsonObject;
    const want = devices.get(String(json.id).replace(/^ua-/, ''))!;
    const libvirtName = (k: string, v: string) => (k === 'id' || (k === 'bus' && v !== json.bus) ? `ua-${v}` : v);
    const renamed = lastWins(want.pairs).map(([k, v]): [string, string] => [k, libvirtName(k, v)]);
    expect(flatten(json)).toEqual([['driver', want.head!], ...renamed]);
    carried++;
  }
  return carried;
}

// ---- Machines ---------------------------------------------------------------------------------

/** Strings QEMU's option syntax and the lock's quoting must both survive. */
const hostile = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ',', ',', '"', '=', ' ', '\\', "'", '-', ':', '&', '<'), minLength: 1, maxLength: 10 });
const quoted = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const device = fc.oneof(
  fc.record({ kind: fc.constant('nvme' as const), serial: hostile, file: hostile }),
  fc.record({ kind: fc.constant('virtio-blk-pci' as const), serial: hostile, file: hostile, bootindex: fc.nat(9) }),
  fc.record({ kind: fc.constant('e1000' as const), forwards: fc.boolean() }),
  fc.record({ kind: fc.constant('virtserialport' as const), name: hostile, path: hostile, socket: fc.boolean() }),
);
type Device = typeof device extends fc.Arbitrary<infer T> ? T : never;

function render(d: Device, i: number): string {
  switch (d.kind) {
    case 'nvme': return `  device d${i}: nvme { file = ${quoted(d.file + '.qcow2')}, serial = ${quoted(d.serial)} }`;
    case 'virtio-blk-pci':
      return `  device d${i}: virtio-blk-pci { file = ${quoted(d.file)}, serial = ${quoted(d.serial)}, bootindex = ${d.bootindex} }`;
    case 'e1000': return `  device d${i}: e1000 { netdev = user${d.forwards ? ` { hostfwd = ["tcp::${2200 + i}-:22", "udp::${3300 + i}-:53"] }` : ''} }`;
    case 'virtserialport': {
      const chardev = d.socket ? `socket { path = ${quoted(d.path)} }` : `file { path = ${quoted(d.path)} }`;
      return `  device s${i}: virtio-serial-pci {\n    device p${i}: virtserialport { name = ${quoted(d.name)}, chardev = ${chardev} }\n  }`;
    }
  }
}

const machine = fc.record({
  chipset: fc.constantFrom('pc', 'q35'),
  devices: fc.array(device, { minLength: 1, maxLength: 5 }),
  maker: fc.option(hostile, { nil: undefined }),
});
type Machine = typeof machine extends fc.Arbitrary<infer T> ? T : never;

const source = (m: Machine): string =>
  [
    `machine m {`,
    `  chipset = ${m.chipset}`,
    ...(m.maker === undefined ? [] : [`  smbios = { manufacturer = ${quoted(m.maker)} }`]),
    ...m.devices.map(render),
    '}',
    '',
  ].join('\n');

function build(text: string, lock?: string): Compilation {
  const b = compile({ file: 'm.machine', source: text, lock: lock === undefined ? undefined : { file: 'm.machine.lock', text: lock } });
  if (!b.ok) throw new Error(`build failed: ${b.diagnostics.map((d) => d.message).join('; ')}\n${text}`);
  return b;
}

/** Every printer against the model of one machine; how many devices libvirt carried as JSON. */
function checkAll(text: string, lock?: string): number {
  const b = build(text, lock);
  const model = qemuModel(b.spec!, b.machine!);
  checkArgv(model, b.argv!);
  checkLock(model, b.argv!, b.lockText!);
  checkQmp(model);
  return checkLibvirt(b, b.argv!);
}

describe('the QEMU machine model and its printers', () => {
  test('an NVMe serial ending in a comma: libvirt\'s JSON -device keeps the serial and the drive', () => {
    const text = 'machine m {\n  chipset = q35\n  device disk0: nvme { file = "d.qcow2", serial = "abc," }\n}\n';
    const b = build(text);
    const out = exportLibvirt({ spec: b.spec!, machine: b.machine!, baseDir: '/srv/vm', qemuCommandline: true });
    const json = qemuArgValues(out.xml!).filter((a) => a.startsWith('{')).map((a) => JSON.parse(a) as JsonObject);
    expect(json).toEqual([expect.objectContaining({ driver: 'nvme', id: 'ua-disk0', serial: 'abc,', drive: 'drive-disk0' })]);
    expect(checkAll(text)).toBe(1);
  });

  test('the plan says every backend with the device the model gives it (a TPM\'s tpmdev, a 9p share\'s fsdev, the console\'s chardev)', () => {
    const text = [
      'machine m {',
      '  chipset = q35',
      '  serial = socket { path = "con,sole.sock" }',
      '  device tpm0: tpm-crb {}',
      '  device share: virtio-9p-pci { path = "/srv,x", tag = "s" }',
      '  device nic0: e1000e { netdev = user }',
      '  device disk0: nvme { file = "d.qcow2" }',
      '}',
      '',
    ].join('\n');
    const b = build(text);
    const backends = qemuBackends(qemuModel(b.spec!, b.machine!));
    expect(backends.map((x) => [x.option, backendOwner(`-${x.option} ${x.id}`)])).toEqual(backends.map((x) => [x.option, x.owner]));
    expect(new Set(backends.map((x) => x.option))).toEqual(new Set(['chardev', 'tpmdev', 'fsdev', 'netdev', 'blockdev']));
    checkAll(text);
  });

  const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.machine'));
  test.each(samples)('sample %s: the argv, the lock, QMP and libvirt say what the model says', (name) => {
    const lock = join(SAMPLES, `${name}.lock`);
    checkAll(readFileSync(join(SAMPLES, name), 'utf8'), existsSync(lock) ? readFileSync(lock, 'utf8') : undefined);
  });

  test('for random machines with hostile strings, the argv, the lock, QMP and libvirt say what the model says', () => {
    let carried = 0;
    fc.assert(fc.property(machine, (m) => void (carried += checkAll(source(m)))), { numRuns: Number(process.env.QEMU_MODEL_RUNS ?? 60), seed: 7 });
    expect(carried).toBeGreaterThan(0); // some devices went through libvirt's JSON form
  });
});
