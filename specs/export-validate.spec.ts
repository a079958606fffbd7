/**
 * The libvirt export is valid for every legal machine: over generated machines (tools/generate-machine.ts,
 * with machine-wide properties and relative host paths drawn by fast-check) and every sample, the XML
 * `export libvirt` writes passes libvirt's own schema (virt-xml-validate), and every path in it is
 * absolute, so libvirt's QEMU, which runs from its own working directory, opens the machine's files.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { compile, exportLibvirt } from '../compiler/index.js';
import { generateMachine } from '../tools/generate-machine.js';
import { cleanScratch, put, read, run, scratch } from './cli/harness.js';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const RUNS = Number(process.env.EXPORT_VALIDATE_RUNS ?? 25);
const haveTools = ['virt-xml-validate', 'xmllint'].every((t) => spawnSync('which', [t]).status === 0);
const maybe = haveTools ? describe : describe.skip;
const work = mkdtempSync(join(tmpdir(), 'machinec-export-validate-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  cleanScratch();
});

/** `machinec export libvirt FILE` in a scratch folder holding FILE: the XML it writes, the folder it ran in. */
async function cliExport(file: string, source: string): Promise<{ xml: string; dir: string }> {
  const dir = scratch();
  put(dir, file, source);
  const r = await run(['export', 'libvirt', file, '--accel', 'tcg', '--qemu-commandline', '--out', 'domain.xml'], dir);
  expect([r.code, r.stderr.split('\n').filter((l) => /error/.test(l))]).toEqual([0, []]);
  return { xml: read(dir, 'domain.xml'), dir };
}

function exported(file: string, source: string): string {
  const c = compile({ file, source });
  expect(c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  const x = exportLibvirt({ spec: c.spec!, machine: c.machine!, baseDir: '/srv/vms', accel: 'tcg', qemuCommandline: true });
  expect(x.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return x.xml!;
}

/** libvirt's schema says; the failure message is virt-xml-validate's own. */
function validate(xml: string): string {
  const file = join(work, 'domain.xml');
  writeFileSync(file, xml);
  const r = spawnSync('virt-xml-validate', [file, 'domain'], { encoding: 'utf8' });
  return r.status === 0 ? 'valid' : `${r.stdout}${r.stderr}`;
}

/** Every path the domain names, read by xmllint: path-like attributes and the path keys inside QEMU arguments and overrides. */
function xpath(file: string, query: string): string[] {
  return spawnSync('xmllint', ['--xpath', query, file], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

function paths(xml: string): string[] {
  const file = join(work, 'paths.xml');
  writeFileSync(file, xml);
  const direct = "//@file|//@path|//*[local-name()!='target']/@dir|//@template|//*[local-name()='loader' or local-name()='nvram']/text()";
  const overrides = xpath(file, "//*[local-name()='property' and (@name='romfile' or @name='path')]/@value").map((l) => /^value="(.*)"$/.exec(l)![1]!);
  const out: string[] = [...overrides];
  for (const line of xpath(file, `${direct}|//*[local-name()='arg']/@value`)) {
    const attr = /^(file|path|dir|template)="(.*)"$/.exec(line);
    if (attr) out.push(attr[2]!);
    else if (!line.startsWith('value=')) out.push(line);
    else for (const m of line.matchAll(/(?:^|[,"{ ])"?(?:path|file\.filename|filename|romfile)"?[=:]"?([^,"}]*)/g)) out.push(m[1]!);
  }
  return out.filter((p) => p !== '');
}

const relative = fc.stringMatching(/^[a-z][a-z0-9-]{0,7}$/).map((s) => `${s}.log`);
const extras = fc.record({
  serial: fc.option(relative, { nil: undefined }),
  channel: fc.option(relative, { nil: undefined }),
  wav: fc.option(relative, { nil: undefined }),
  rom: fc.option(relative.map((s) => s.replace(/\.log$/, '.rom')), { nil: undefined }),
  cpu: fc.constantFrom(undefined, 'Skylake-Client { pcid = false }', 'EPYC-Rome'),
  topology: fc.boolean(),
  smbios: fc.boolean(),
  acpi: fc.boolean(),
  uefi: fc.boolean(),
});

function machineOf(n: number, e: Readonly<Record<string, unknown>>): string {
  const lines: string[] = [];
  if (e.serial) lines.push(`  serial = file { path = "${e.serial}" }`);
  if (e.cpu) lines.push(`  cpu = ${e.cpu}`);
  if (e.topology) lines.push('  topology = { sockets = 2, cores = 2, threads = 1 }');
  if (e.smbios) lines.push('  smbios = { manufacturer = "Acme", product = "Desk-1" }');
  if (e.acpi) lines.push('  acpi = false');
  if (e.uefi) lines.push('  firmware = uefi');
  const port = `virtserialport { chardev = file { path = "${e.channel}" }, name = "org.example.log" }`;
  if (e.channel) lines.push(`  device vser: virtio-serial-pci {`, `    device port0: ${port}`, '  }');
  if (e.wav) lines.push(`  device snd: intel-hda {`, `    device spk: hda-duplex { audiodev = wav { path = "${e.wav}" } }`, '  }');
  if (e.rom) lines.push(`  device romnic: e1000 { netdev = user, romfile = "${e.rom}" }`);
  return generateMachine(n).replace(/^(machine \S+ \{)$/m, (head) => [head, ...lines].join('\n'));
}

maybe('export libvirt: libvirt accepts it, and every path is absolute', () => {
  it('every sample', async () => {
    const samples = readdirSync(join(ROOT, 'samples')).filter((f) => f.endsWith('.machine'));
    expect(samples.length).toBeGreaterThan(0);
    for (const f of samples) {
      const { xml } = await cliExport(f, readFileSync(join(ROOT, 'samples', f), 'utf8'));
      expect([f, validate(xml)]).toEqual([f, 'valid']);
      expect(paths(xml).filter((p) => !p.startsWith('/'))).toEqual([]);
    }
  });

  it('relative chardev, serial, wav and romfile paths are written against the machine folder', async () => {
    const { xml, dir } = await cliExport('m.machine', machineOf(8, { serial: 'serial.log', channel: 'log.txt', wav: 'out.wav', rom: 'pxe.rom' }));
    expect(validate(xml)).toBe('valid');
    const all = paths(xml);
    for (const p of ['serial.log', 'log.txt', 'out.wav', 'pxe.rom']) expect(all).toContain(join(dir, p));
    expect(all.filter((p) => !p.startsWith('/'))).toEqual([]);
  });

  it('generated machines', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 40 }), extras, (n, e) => {
        const xml = exported('gen.machine', machineOf(n, e));
        expect(validate(xml)).toBe('valid');
        expect(paths(xml).filter((p) => !p.startsWith('/'))).toEqual([]);
      }),
      { numRuns: RUNS, seed: 20261208 },
    );
  }, 240_000);
});
