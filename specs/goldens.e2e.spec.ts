/**
 * Every build golden, on the real QEMU: the command line each case compiles to starts (stand-ins
 * for missing disks and for NIC backends, as `verify` uses), and after the firmware numbers the
 * buses every PCI device is where the case's expected lock says. So the goldens are checked
 * against QEMU, not only against what the compiler printed before.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, emit, readLock } from '../compiler/index.js';
import { compareGuestView } from '../compiler/index.js';
import { guestView, qemuDescribe } from './support/qemu.js';

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname;
const buildDir = join(here, 'build');
const cases = readdirSync(buildDir)
  .filter((name) => existsSync(join(buildDir, name, 'expected.lock')))
  .sort()
  .map((name) => {
    const input = join(buildDir, name, 'input.machine');
    const sample = join(here, '..', 'samples', `${name.replace(/^samples-/, '')}.machine`);
    return { name, source: readFileSync(existsSync(input) ? input : sample, 'utf8'), lock: readFileSync(join(buildDir, name, 'expected.lock'), 'utf8') };
  });

qemuDescribe('build goldens on the real QEMU', () => {
  test('there are goldens to boot', () => expect(cases.length).toBeGreaterThanOrEqual(20));

  test.each(cases.map((c) => [c.name, c] as const))('%s boots with every device where its lock says', async (_name, c) => {
    const built = compile({ file: 'input.machine', source: c.source, lock: { file: 'expected.lock', text: c.lock } });
    expect(built.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const argv = emit(built.spec!, built.machine!, { standIns: { fileExists: () => false, resolveFile: (p) => p } });
    const view = await guestView(argv);
    const expected = readLock(c.lock, 'expected.lock').lock!;
    expect(compareGuestView(expected, view).mismatches).toEqual([]);
  }, 60_000);
});
