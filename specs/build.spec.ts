/**
 * Golden files for the build stage: every `specs/build/<case>/input.machine` and every
 * `samples/*.machine` (goldens under `specs/build/samples-<name>/`) compiles to `expected.args`
 * (the QEMU command line, one option per line) and `expected.lock` (the lock text).
 * `UPDATE_GOLDENS=1` rewrites the goldens; otherwise they are compared exactly.
 *
 * Beside the goldens, every case is held to rules that do not depend on the compiler's choices.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../compiler/index.js';
import { expectGolden } from './support/golden.js';
import { catalog } from '../compiler/catalog.js';
import { renderDiagnostics } from '../cli/render-diagnostic.js';

const here = dirname(fileURLToPath(import.meta.url));
const buildDir = join(here, 'build');
const samplesDir = join(here, '..', 'samples');

/**
 * Cases that show a known compiler bug: they run as `test.failing`, so the suite goes red the
 * day the bug is fixed and the goldens can be generated.
 */
const KNOWN_BUGS: Record<string, string> = {};

interface Case {
  readonly name: string;
  readonly file: string;
  readonly source: string;
  readonly goldenDir: string;
  /** A sample's committed lock: its golden is what a build against it gives (CPU models and firmware digests resolved on the host it was locked on). */
  readonly lock?: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const name of readdirSync(samplesDir).filter((f) => f.endsWith('.machine')).sort()) {
    const file = join(samplesDir, name);
    const lock = existsSync(`${file}.lock`) ? readFileSync(`${file}.lock`, 'utf8') : undefined;
    out.push({ name: `samples-${name.replace(/\.machine$/, '')}`, file: name, source: readFileSync(file, 'utf8'), goldenDir: join(buildDir, `samples-${name.replace(/\.machine$/, '')}`), lock });
  }
  for (const name of readdirSync(buildDir).sort()) {
    const file = join(buildDir, name, 'input.machine');
    if (!existsSync(file)) continue;
    out.push({ name, file: `${name}.machine`, source: readFileSync(file, 'utf8'), goldenDir: join(buildDir, name) });
  }
  return out;
}

/** `qemu-system-x86_64`, then one option per line: `-device e1000,…` together, lone flags alone. */
export function formatArgs(argv: readonly string[]): string {
  const lines = ['qemu-system-x86_64'];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    if (a.startsWith('-') && next !== undefined && !next.startsWith('-')) {
      lines.push(`${a} ${next}`);
      i++;
    } else lines.push(a);
  }
  return lines.join('\n') + '\n';
}

/** `a=b,,c,d=e` → [['a','b,c'],['d','e']]; the first word (the driver) has no `=`. */
function splitOption(text: string): { head: string; props: Map<string, string> } {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',' && text[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (text[i] === ',') {
      parts.push(cur);
      cur = '';
    } else cur += text[i];
  }
  parts.push(cur);
  const props = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    expect(eq).toBeGreaterThan(0);
    if (p.slice(0, eq) !== 'hostfwd') expect(props.has(p.slice(0, eq))).toBe(false); // a user netdev repeats hostfwd=
    props.set(p.slice(0, eq), p.slice(eq + 1));
  }
  return { head: parts[0], props };
}

interface DeviceOpt {
  readonly model: string;
  readonly props: Map<string, string>;
}

const OFF_BUS = new Set([...Object.keys(catalog).filter((m) => catalog[m].plug === 'system'), 'isa-serial']);
const isPciModel = (model: string): boolean => catalog[model]?.pci !== undefined || model === 'vfio-pci';
/** Buses the chipsets create themselves, which no `-device` defines. */
const BUILTIN_BUSES: Record<string, string[]> = { pc: ['pci.0', 'ide.0', 'ide.1'], q35: ['pcie.0', 'ide.0', 'ide.1', 'ide.2', 'ide.3', 'ide.4', 'ide.5'] };

function checkRules(c: Case, argv: string[]): void {
  expect(argv).toContain('-nodefaults');
  expect(argv).toContain('-no-user-config');
  const machine = argv[argv.indexOf('-machine') + 1];
  const chipset = machine.startsWith('pc-q35') || machine === 'q35' ? 'q35' : 'pc';
  const rootBus = chipset === 'q35' ? 'pcie.0' : 'pci.0';

  const devices: DeviceOpt[] = [];
  const defined = new Set<string>();
  const backendIds = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i];
    if (!['-device', '-netdev', '-blockdev', '-chardev', '-audiodev', '-tpmdev', '-fsdev'].includes(opt)) continue;
    const { head, props } = splitOption(argv[i + 1]);
    if (opt !== '-device') {
      const id = props.get(opt === '-blockdev' ? 'node-name' : 'id');
      expect(id).toBeDefined();
      expect(backendIds.has(`${opt}/${id}`)).toBe(false);
      backendIds.add(`${opt}/${id}`);
      continue;
    }
    const id = props.get('id');
    const bus = props.get('bus');
    expect(id).toBeDefined();
    // Machine devices off PCI (TPM, vmgenid) and the ttyS0 console sit on no bus machinec names.
    if (OFF_BUS.has(head)) expect(bus).toBeUndefined();
    else expect(bus).toBeDefined();
    // bus= names the root bus, a chipset bus, or a bus of a device defined earlier (`usb` or `usb.0`).
    const owner = bus?.replace(/\.\d+$/, '');
    if (bus !== undefined && !BUILTIN_BUSES[chipset].includes(bus)) {
      if (!defined.has(owner!)) throw new Error(`${c.name}: ${id} names bus ${bus}, but no earlier -device defines ${owner}`);
    }
    expect(defined.has(id!)).toBe(false);
    defined.add(id!);
    // Referenced backends exist.
    for (const [key, opt2] of [['netdev', '-netdev'], ['drive', '-blockdev'], ['chardev', '-chardev'], ['audiodev', '-audiodev'], ['tpmdev', '-tpmdev'], ['fsdev', '-fsdev']] as const) {
      const ref = props.get(key);
      if (ref !== undefined && !backendIds.has(`${opt2}/${ref}`)) throw new Error(`${c.name}: ${id} refers to ${key} ${ref}, defined by no earlier ${opt2}`);
    }
    devices.push({ model: head, props });
  }

  // PCI devices: both bus= and addr=, addresses unique per bus, multifunction=on on function 0 of shared slots.
  const held = new Map<string, string>();
  const slots = new Map<string, { fns: Set<number>; fn0?: DeviceOpt }>();
  for (const d of devices) {
    const pci = isPciModel(d.model);
    const addr = d.props.get('addr');
    if (!pci) {
      expect(addr).toBeUndefined();
      continue;
    }
    if (addr === undefined) throw new Error(`${c.name}: PCI device ${d.props.get('id')} has no addr=`);
    const m = /^([0-9a-f]{2})\.([0-7])$/.exec(addr);
    if (!m) throw new Error(`${c.name}: addr=${addr} is not SS.F in hex`);
    const key = `${d.props.get('bus')}/${addr}`;
    if (held.has(key)) throw new Error(`${c.name}: ${d.props.get('id')} and ${held.get(key)} both at ${key}`);
    held.set(key, d.props.get('id')!);
    const slotKey = `${d.props.get('bus')}/${m[1]}`;
    const s = slots.get(slotKey) ?? { fns: new Set<number>() };
    s.fns.add(Number(m[2]));
    if (m[2] === '0') s.fn0 = d;
    slots.set(slotKey, s);
    // A device behind a root port sits in its one slot, 00; behind a PCI bridge never in slot 00.
    const parent = devices.find((p) => p.props.get('id') === d.props.get('bus'));
    if (parent?.model === 'pcie-root-port') expect(m[1]).toBe('00');
    if (parent?.model === 'pci-bridge' || parent?.model === 'pcie-pci-bridge') expect(m[1]).not.toBe('00');
    // Nothing on the chipset's built-in functions.
    if (d.props.get('bus') === rootBus) {
      const builtins = chipset === 'pc' ? ['00.0', '01.0', '01.1', '01.2', '01.3'] : ['00.0', '1f.0', '1f.2', '1f.3'];
      expect(builtins).not.toContain(addr);
    }
  }
  for (const [slotKey, s] of slots) {
    if (s.fns.size > 1 || [...s.fns].some((f) => f > 0)) {
      if (!s.fn0) throw new Error(`${c.name}: slot ${slotKey} has functions ${[...s.fns]} but no function 0`);
      expect(s.fn0.props.get('multifunction')).toBe('on');
    }
  }
  // Root ports: unique chassis/port pairs; pci-bridges: unique chassis_nr.
  const chassis = devices.filter((d) => d.model === 'pcie-root-port').map((d) => `${d.props.get('chassis')}/${d.props.get('port')}`);
  expect(new Set(chassis).size).toBe(chassis.length);
  const nrs = devices.filter((d) => d.model === 'pci-bridge').map((d) => d.props.get('chassis_nr'));
  expect(new Set(nrs).size).toBe(nrs.length);
  // MACs unique.
  const macs = devices.map((d) => d.props.get('mac')).filter((m): m is string => m !== undefined);
  expect(new Set(macs).size).toBe(macs.length);
}

const all = cases();

describe('build goldens', () => {
  test('there are the samples and at least 12 more cases', () => {
    expect(all.filter((c) => c.name.startsWith('samples-')).length).toBeGreaterThanOrEqual(2);
    expect(all.filter((c) => !c.name.startsWith('samples-')).length).toBeGreaterThanOrEqual(12);
  });

  for (const c of all) {
    const run = KNOWN_BUGS[c.name] ? test.failing : test;
    run(`${c.name}${KNOWN_BUGS[c.name] ? ` (known bug: ${KNOWN_BUGS[c.name]})` : ''}`, () => {
      const r = compile({ file: c.file, source: c.source, lock: c.lock === undefined ? undefined : { file: `${c.file}.lock`, text: c.lock } });
      if (!r.ok) throw new Error(`${c.name} does not compile:\n${renderDiagnostics(r.diagnostics, new Map([[c.file, c.source]]))}`);
      // `cpu = host` or `max` is legal and always warned about: the one warning a golden may have.
      expect(r.diagnostics.filter((d) => d.code !== 'cpu-follows-host')).toEqual([]);
      checkRules(c, r.argv!);
      expectGolden(join(c.goldenDir, 'expected.args'), formatArgs(r.argv!));
      expectGolden(join(c.goldenDir, 'expected.lock'), r.lockText!);
    });
  }
});

describe('build rules', () => {
  test('every catalog model is built by at least one case', () => {
    const used = new Set<string>();
    for (const c of all) {
      if (KNOWN_BUGS[c.name]) continue;
      const r = compile({ file: c.file, source: c.source });
      for (const d of r.machine?.devices ?? []) used.add(d.model);
    }
    expect(Object.keys(catalog).filter((m) => !used.has(m))).toEqual([]);
  });

  test('compiling twice gives identical output', () => {
    for (const c of all) {
      const a = compile({ file: c.file, source: c.source });
      const b = compile({ file: c.file, source: c.source });
      expect(b.argv).toEqual(a.argv);
      expect(b.lockText).toEqual(a.lockText);
    }
  });

  test('building again from its own lock changes nothing', () => {
    for (const c of all) {
      const first = compile({ file: c.file, source: c.source });
      if (!first.ok) continue;
      const again = compile({ file: c.file, source: c.source, lock: { file: `${c.file}.lock`, text: first.lockText! } });
      expect(again.ok).toBe(true);
      expect(again.argv).toEqual(first.argv);
      expect(again.lockText).toEqual(first.lockText);
      expect(again.plan?.guestVisible).toBe(false);
      expect(again.plan?.changes).toEqual([]);
    }
  });

  test('a comma in a file name is doubled in -blockdev, and only there', () => {
    const r = compile({ file: 't.machine', source: 'machine t { chipset = q35 device d: virtio-blk-pci { file = "a,b.img" } }' });
    expect(r.ok).toBe(true);
    expect(r.argv).toContain('driver=raw,node-name=drive-d,file.driver=file,file.filename=a,,b.img');
  });

  test('formatArgs puts an option and its value on one line', () => {
    expect(formatArgs(['-nodefaults', '-m', '512M', '-device', 'e1000,id=a'])).toBe('qemu-system-x86_64\n-nodefaults\n-m 512M\n-device e1000,id=a\n');
  });
});
