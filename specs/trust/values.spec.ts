/**
 * Values: a newline in a string split `--format lines` into new arguments, and numbers changed
 * silently (`format`/`accel` blocks lost or emitted as undefined).
 */
import { compile } from '../../compiler/index.js';

const build = (body: string, device = '') => compile({ file: 'm.machine', source: `machine m {\n${body}\n${device}\n}\n` });
const codes = (c: ReturnType<typeof compile>) => c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code);

describe('strings with control characters are refused at the string', () => {
  it.each([
    ['a newline escape', '"vm.img\\n-hdb\\n/etc/shadow"', 'a newline'],
    ['a NUL', '"vm\u0000.img"', 'a NUL character'],
    ['a tab', '"vm\\t.img"', 'U+0009'],
    ['an escape character', '"vm\u001b[31m.img"', 'U+001B'],
    ['a line separator', '"vm\u2028.img"', 'U+2028'],
  ])('%s', (_what, literal, said) => {
    const c = build('', `  device disk0: virtio-blk-pci { file = ${literal} }`);
    expect(c.ok).toBe(false);
    const d = c.diagnostics.find((x) => x.code === 'string-control-character')!;
    expect(d.message).toContain(said);
    const source = `machine m {\n\n  device disk0: virtio-blk-pci { file = ${literal} }\n}\n`;
    expect(source.slice(d.span!.start, d.span!.end)).toBe(literal);
    expect(c.argv).toBeUndefined();
  });

  it('inside typed blocks and lists too', () => {
    const c = build('', '  device nic0: e1000 { netdev = tap { ifname = "tap0\\n-hdb" } }');
    expect(codes(c)).toContain('string-control-character');
  });
});

describe('numbers are exact or errors', () => {
  it.each([
    ['memory = 99999999999999999999G', 'number-range'],
    ['memory = 4096T', undefined],
    ['memory = 5000T', 'memory-range'],
    ['cpus = 9007199254740993', 'number-range'],
  ])('%s', (prop, code) => {
    const c = build(`  ${prop}`);
    if (code) expect(codes(c)).toContain(code);
    expect(c.argv?.join(' ') ?? '').not.toMatch(/e\+/);
  });

  it('cpus past the machine type\'s maximum', () => {
    expect(codes(build('  chipset = pc\n  cpus = 256'))).toContain('cpus-range');
    expect(build('  chipset = pc\n  cpus = 255').ok).toBe(true);
  });

  it('a device property past 2^53', () => {
    const c = build('', '  device nic0: virtio-net-pci { netdev = user, bootindex = 18446744073709551617 }');
    expect(codes(c)).toContain('number-range');
  });

  it('no exponent reaches any argument of a valid machine', () => {
    const c = build('  memory = 4T\n  cpus = 288', '  device disk0: virtio-blk-pci { file = "a.qcow2" }');
    expect(c.ok).toBe(true);
    for (const a of c.argv!) for (const part of a.split(/[,=]/)) expect(part).not.toMatch(/^[\d.]+e[+-]?\d+$/i);
  });
});
