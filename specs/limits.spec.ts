/**
 * Platform limits, as diagnostics that name them: 256 bus numbers per PCI domain, 32 slots per
 * bus, 8 functions per slot, one device per root port, 232 root ports on pcie.0, and the IO port
 * space SeaBIOS hands to bridges (a warning: the build goes on).
 *
 * Goldens: every `specs/limits/<case>.machine` renders exactly `<case>.errors.txt` (errors and
 * warnings, no color; empty when the machine is fine). `UPDATE_GOLDENS=1` rewrites them.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../compiler/index.js';
import { expectGolden } from './support/golden.js';
import { renderDiagnostics } from '../cli/render-diagnostic.js';
import { runCli } from './support/cli.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'limits');
const cases = readdirSync(dir).filter((f) => f.endsWith('.machine')).sort();

/** What each case must say: the limit, by number. */
const names: Record<string, RegExp | null> = {
  'bus-numbers-declared-bridges': /a PCI domain has 256 bus numbers \(0 to 255\): this machine needs 289/,
  'bus-numbers-q35-bridges': /no room for pb126 .*a PCI domain has 256 bus numbers \(0 to 255\)/,
  'slots-per-bus': /a PCI bus has 32 slots \(00 to 1f\), and slot 00 of a bridge is its hotplug controller/,
  'slot-out-of-range': /a PCI bus has 32 slots, 00 to 1f/,
  'function-out-of-range': /a slot has 8 functions, 0 to 7/,
  'root-port-full': /holds at most 1 device/,
  'root-port-slot': /a root port has one slot, 00/,
  'root-ports-exhausted': /pcie\.0 has no function left for another root port: slots 02 to 1e, 8 functions each, hold 232/,
  'io-space-pc-bridges': /warning\[io-space\]: 9 bridges .* on pc \(0x1000 to 0x9fff, 4 KiB a bridge\) has room for 8: no IO window for br9\n/,
  'io-space-q35-root-ports': /warning\[io-space\]: 15 bridges .* on q35 .* has room for 14: no IO window for rp15\n/,
  'io-space-grouped': null,
  'io-space-virtio-root-ports': null,
};

const devices = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i)).join('\n');

describe('limit goldens', () => {
  test('every case says what it checks', () => {
    expect(cases.map((c) => c.replace(/\.machine$/, '')).sort()).toEqual(Object.keys(names).sort());
  });

  for (const name of cases) {
    const id = name.replace(/\.machine$/, '');
    test(id, () => {
      const source = readFileSync(join(dir, name), 'utf8');
      const r = compile({ file: name, source });
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      // Only the io-space cases build; the limit cases fail with one error that names the limit.
      if (id.startsWith('io-space')) {
        expect(errors).toEqual([]);
        expect(r.ok).toBe(true);
        expect(r.lockText).toBeDefined();
      } else {
        expect(r.ok).toBe(false);
        expect(errors).toHaveLength(1);
      }
      for (const d of r.diagnostics) {
        expect(d.span).toBeDefined();
        expect(d.hint ?? '').not.toBe('');
      }
      const rendered = renderDiagnostics(r.diagnostics, new Map([[name, source]]), false);
      if (names[id]) expect(rendered).toMatch(names[id]!);
      else expect(rendered).toBe('');
      expectGolden(join(dir, `${id}.errors.txt`), rendered);
    });
  }
});

describe('bus numbers under automatic placement', () => {
  test('q35 takes 2,081 PCIe devices (128 behind root ports, then 63 pcie-pci-bridges of 31); the 2,082nd is one clear error', () => {
    const machine = (n: number) => `machine big {\n${devices(n, (i) => `  device d${i}: virtio-rng-pci`)}\n}\n`;
    const fits = compile({ file: 'big.machine', source: machine(2081) });
    expect(fits.ok).toBe(true);
    const buses = fits.machine!.devices.filter((d) => d.secondaryBus !== undefined);
    // Bus 255 stays free: a pcie-pci-bridge needs two numbers, with its root port.
    expect(Math.max(...buses.map((d) => d.secondaryBus!))).toBe(254);
    const over = compile({ file: 'big.machine', source: machine(2100) });
    expect(over.ok).toBe(false);
    expect(over.diagnostics.map((d) => d.code)).toEqual(['too-many-buses']);
    expect(over.diagnostics[0].message).toBe('no room for d2081 (and 18 more after it: d2082, d2083, d2084, …): every bus number is taken: a PCI domain has 256 bus numbers (0 to 255)');
    expect(over.diagnostics[0].span).toBeDefined();
  });

  test('pc takes 7,678 devices (28 on pci.0, 30 behind each of 255 chained bridges); the next is one clear error', () => {
    const machine = (n: number) => `machine big {\n  chipset = pc\n${devices(n, (i) => `  device d${i}: virtio-rng-pci`)}\n}\n`;
    const over = compile({ file: 'big.machine', source: machine(7679) });
    expect(over.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual(['no room for d7678: every bus number is taken: a PCI domain has 256 bus numbers (0 to 255)']);
  }, 30_000);
});

describe('io-space warning', () => {
  const bridged = (chipset: string, n: number, model: string) =>
    `machine io {\n  chipset = ${chipset}\n${devices(n, (i) => `  device br${i + 1}: ${chipset === 'pc' ? 'pci-bridge' : 'pcie-pci-bridge'} {\n    device nic${i + 1}: ${model} { netdev = user }\n  }`)}\n}\n`;
  const warnings = (source: string) => compile({ file: 'io.machine', source }).diagnostics.filter((d) => d.code === 'io-space');

  // Measured on QEMU 7.2 with SeaBIOS: k bridges holding one e1000 each boot with every IO BAR
  // assigned up to k = 8 on pc and k = 14 on q35; at k + 1 SeaBIOS stops with
  // "PCI: out of I/O address space" and no BAR is assigned at all.
  test.each([
    ['pc', 8],
    ['q35', 14],
  ])('%s: %i bridges with an e1000 each fit, one more is a warning naming it', (chipset, limit) => {
    expect(warnings(bridged(chipset as string, limit as number, 'e1000'))).toEqual([]);
    const w = warnings(bridged(chipset as string, (limit as number) + 1, 'e1000'));
    expect(w).toHaveLength(1);
    expect(w[0].severity).toBe('warning');
    expect(w[0].message).toMatch(new RegExp(`has room for ${limit}: no IO window for br${(limit as number) + 1}$`));
    expect(w[0].hint).toMatch(/PCI: out of I\/O address space/);
  });

  test('transitional virtio counts on a conventional bus, modern virtio behind a root port does not', () => {
    expect(warnings(bridged('q35', 15, 'virtio-net-pci'))).toHaveLength(1);
    expect(warnings(`machine io {\n${devices(40, (i) => `  device nic${i}: virtio-net-pci { netdev = user }`)}\n}\n`)).toEqual([]);
  });

  test('a bridge whose devices need more than 4 KiB of IO takes two windows', () => {
    // 17 rtl8139 (256 bytes each) need 4,352 bytes: 8 KiB. 4 such bridges and 1 more with an e1000 fill pc's 8 windows...
    const big = (i: number) => `  device big${i}: pci-bridge {\n${devices(17, (j) => `    device r${i}x${j}: rtl8139 { netdev = user }`)}\n  }`;
    const fits = `machine io {\n  chipset = pc\n${devices(4, big)}\n}\n`;
    expect(warnings(fits)).toEqual([]);
    // ...and one more bridge with an e1000 does not fit.
    const over = fits.replace(/\n}\n$/, `\n  device last: pci-bridge {\n    device nic: e1000 { netdev = user }\n  }\n}\n`);
    expect(warnings(over).map((w) => w.message)).toEqual([expect.stringMatching(/has room for 4: no IO window for last$/)]);
  });

  test('a warning does not fail the build: the CLI prints it and exits 0', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'machinec-limits-'));
    try {
      writeFileSync(join(tmp, 'io.machine'), readFileSync(join(dir, 'io-space-pc-bridges.machine'), 'utf8'));
      const check = await runCli(['check', 'io.machine'], tmp);
      expect(check.code).toBe(0);
      expect(check.stderr).toContain('warning[io-space]');
      const build = await runCli(['build', 'io.machine', '--qemu', join(tmp, 'no-qemu')], tmp);
      expect(build.code).toBe(0);
      expect(build.stderr).toContain('warning[io-space]');
      expect(build.stdout).toContain('-device pci-bridge');
      expect(existsSync(join(tmp, 'io.machine.lock'))).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
