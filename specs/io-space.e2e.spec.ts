/**
 * The IO-space limit, proven on the real QEMU from both sides. machinec's `warning[io-space]` gives
 * the largest k for which a machine of k bridges, each holding one device with an IO port, builds
 * without the warning; the warning fires at k + 1. On QEMU, SeaBIOS boots the k machine (its debug
 * console reaches "Booting from", with no "out of I/O address space") and stops the k + 1 machine
 * with "PCI: out of I/O address space". k is measured, not assumed, so another SeaBIOS with another
 * pool fails here only if machinec's model of it is wrong.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, emit } from '../compiler/index.js';
import { firmwareLog, qemuDescribe } from './support/qemu.js';

const T = 120_000;

/** pc: k user-declared pci-bridges with an e1000 each; q35: k e1000e, each behind the root port machinec makes. */
const SHAPES = {
  pc: (n: number) => Array.from({ length: n }, (_, i) => `  device br${i + 1}: pci-bridge {\n    device nic${i + 1}: e1000 { netdev = user }\n  }\n`).join(''),
  q35: (n: number) => Array.from({ length: n }, (_, i) => `  device nic${i + 1}: e1000e { netdev = user }\n`).join(''),
} as const;
type Chipset = keyof typeof SHAPES;

const source = (chipset: Chipset, n: number) => `machine io {\n  chipset = ${chipset}\n  memory = 128M\n${SHAPES[chipset](n)}}\n`;

function build(chipset: Chipset, n: number) {
  const c = compile({ file: 'io.machine', source: source(chipset, n) });
  if (!c.ok) throw new Error(`${chipset} with ${n} bridges does not build: ${c.diagnostics.map((d) => d.message).join('; ')}`);
  // No option ROMs (a ROM BAR is memory, not IO): SeaBIOS gets to "Booting from" without running iPXE.
  const argv = [...emit(c.spec!, c.machine!), '-global', 'e1000.romfile=', '-global', 'e1000e.romfile='];
  return { warned: c.diagnostics.some((d) => d.code === 'io-space'), argv };
}

/** The most bridges machinec builds without warning[io-space]. */
function lastWithoutWarning(chipset: Chipset): number {
  for (let n = 1; n <= 40; n++) if (build(chipset, n).warned) return n - 1;
  throw new Error(`${chipset}: no io-space warning up to 40 bridges`);
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'machinec-io-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

qemuDescribe('the IO-space limit on the real QEMU', () => {
  test.each(['pc', 'q35'] as const)('%s: k bridges boot, k + 1 stop SeaBIOS, and machinec warns exactly from k + 1', async (chipset) => {
    const k = lastWithoutWarning(chipset);
    expect(k).toBeGreaterThanOrEqual(4);
    expect(build(chipset, k + 1).warned).toBe(true);
    expect(build(chipset, k + 2).warned).toBe(true);

    const fits = await firmwareLog(build(chipset, k).argv, dir);
    expect(fits).toContain('Booting from');
    expect(fits).not.toContain('out of I/O address space');

    const over = await firmwareLog(build(chipset, k + 1).argv, dir);
    expect(over).toContain('out of I/O address space');
    expect(over).not.toContain('Booting from');
    console.log(`${chipset}: ${k} bridges with IO ports boot, ${k + 1} do not`);
  }, T);
});
