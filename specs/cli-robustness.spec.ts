/**
 * The CLI never shows a stack trace and never loses a lock:
 * - fast-check over random sources and random mutations of real machines (bytes, CRLF, NUL,
 *   huge numbers, deep nesting), and over random lock contents next to a valid machine;
 * - atomic writes: no temporary files left, a lock that does not parse is never overwritten,
 *   eight concurrent builds of the bundled binary leave one whole, correct lock;
 * - the build path of the bundled binary does not load prettier (a module-resolution log).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readLock } from '../compiler/index.js';
import { BIN, cleanScratch, ensureBin, GOLDENS, leftovers, NO_QEMU, put, Q, read, run, runCli, sample, scratch, snapshot, STACK_FRAME, tree } from './cli/harness.js';

const SAMPLES = [sample('office.machine'), sample('legacy.machine'), readFileSync(join(GOLDENS, 'rich.machine'), 'utf8')];
/** fast-check runs per property; FC_RUNS raises it for a longer hunt. */
const RUNS = Number(process.env.FC_RUNS ?? 60);

afterAll(cleanScratch);

// ---- mutations ------------------------------------------------------------------------------

const TOKENS = ['{', '}', '[', ']', '@', '=', ':', ',', '"', '\\', '.', ' ', '\n', '\t', 'device', 'machine', 'x', 'nic0', 'e1000', 'pci-bridge', 'qemu-xhci', '05.0', '1f.7', '0x', '0x1f', '4G', '-1', '//', '/*', '*/', 'true', 'q35', 'pc', 'user', 'tap {', '\u00e9', '\u{1F600}', '\uFEFF', '\u2028', '\r'];

type Mutation = (b: Buffer) => Buffer;
const at = (b: Buffer, pos: number): number => (b.length ? pos % (b.length + 1) : 0);
const splice = (b: Buffer, start: number, deleteCount: number, insert: Buffer | string = Buffer.alloc(0)): Buffer =>
  Buffer.concat([b.subarray(0, start), typeof insert === 'string' ? Buffer.from(insert, 'utf8') : insert, b.subarray(Math.min(b.length, start + deleteCount))]);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // delete a run of bytes (may cut a UTF-8 sequence in half)
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 40 })).map(([p, n]): Mutation => (b) => splice(b, at(b, p), n)),
  // insert grammar tokens
  fc.tuple(fc.nat(), fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 6 })).map(([p, ts]): Mutation => (b) => splice(b, at(b, p), 0, ts.join(''))),
  // insert a random string
  fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 20 })).map(([p, s]): Mutation => (b) => splice(b, at(b, p), 0, s)),
  // duplicate a slice somewhere else
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 80 }), fc.nat()).map(([s, n, p]): Mutation => (b) => {
    const start = at(b, s);
    return splice(b, at(b, p), 0, Buffer.from(b.subarray(start, start + n)));
  }),
  // random bytes, also invalid UTF-8
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 12 })).map(([p, bytes]): Mutation => (b) => splice(b, at(b, p), 0, Buffer.from(bytes))),
  // CRLF line ends, and lone CRs
  fc.constant<Mutation>((b) => Buffer.from(b.toString('latin1').replace(/\n/g, '\r\n'), 'latin1')),
  fc.constant<Mutation>((b) => Buffer.from(b.toString('latin1').replace(/\n/g, '\r'), 'latin1')),
  // NUL
  fc.nat().map((p): Mutation => (b) => splice(b, at(b, p), 0, '\0')),
  // a number made huge
  fc.tuple(fc.nat(), fc.constantFrom('9'.repeat(40), '0x' + 'f'.repeat(30), '1e309', '18446744073709551616', '9'.repeat(400) + 'T', '-0', '00000000000000000001')).map(([p, big]): Mutation => (b) => {
    const text = b.toString('utf8');
    const numbers = [...text.matchAll(/\d+/g)];
    if (!numbers.length) return b;
    const m = numbers[p % numbers.length];
    return Buffer.from(text.slice(0, m.index) + big + text.slice(m.index! + m[0].length), 'utf8');
  }),
  // deep nesting: devices, lists, typed blocks; closed or not
  fc
    .tuple(fc.nat(), fc.integer({ min: 1, max: 3000 }), fc.constantFrom(['device d: pci-bridge {\n', '}\n'], ['accel = [', ']'], ['x = tap { y = tap ', '}'], ['{', '}'], ['[', ']']), fc.boolean())
    .map(([p, n, [open, close], closed]): Mutation => (b) => splice(b, at(b, p), 0, open.repeat(n) + (closed ? close.repeat(n) : ''))),
);

const mutated: fc.Arbitrary<Buffer> = fc
  .tuple(fc.constantFrom(...SAMPLES), fc.array(mutation, { minLength: 1, maxLength: 5 }))
  .map(([source, ms]) => ms.reduce<Buffer>((b, m) => m(b), Buffer.from(source, 'utf8')));

const randomSource: fc.Arbitrary<Buffer> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(s, 'utf8')),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((ts) => Buffer.from(ts.join(' '), 'utf8')),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
);

// ---- the property ---------------------------------------------------------------------------

/** Runs set MACHINEC_DEBUG, so an internal error comes with its stack: the failure shows where, and the input. */
const DEBUG = { MACHINEC_DEBUG: '1' };
const noStack = (stderr: string, input?: Buffer | string): void => {
  if (STACK_FRAME.test(stderr) || /error\[internal\]/.test(stderr)) {
    let shown = '';
    if (input !== undefined) {
      const saved = join(tmpdir(), `machinec-fuzz-failure-${process.pid}.bin`);
      writeFileSync(saved, input);
      shown = `\n--- input (${input.length} bytes, saved as ${saved}) ---\n${JSON.stringify(input.toString().slice(0, 2000))}`;
    }
    throw new Error(`a stack trace or internal error:\n${stderr.replace(/^\s*\d* \|.*\n/gm, '').slice(-3000)}${shown}`);
  }
};

describe('never a stack trace', () => {
  const dir = scratch({}, 'machinec-fuzz-');
  const file = join(dir, 'm.machine');
  const lock = join(dir, 'm.machine.lock');

  /** Builds `source` without a lock: exit 0 with a lock that reads back and a second build that changes nothing, or exit 1 with nothing written. */
  async function buildOnce(source: Buffer): Promise<void> {
    try {
      await buildOnceUnsaved(source);
    } catch (e) {
      const saved = join(tmpdir(), `machinec-fuzz-failure-${process.pid}.machine`);
      writeFileSync(saved, source);
      throw new Error(`${(e as Error).message}\n--- input saved as ${saved} ---`);
    }
  }

  async function buildOnceUnsaved(source: Buffer): Promise<void> {
    writeFileSync(file, source);
    rmSync(lock, { force: true });
    const r = await run(['build', 'm.machine'], dir, DEBUG);
    noStack(r.stderr, source);
    expect([0, 1]).toContain(r.code);
    if (r.code === 1) {
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^(error|warning)\[[a-z-]+\]/m);
      expect(readdirSync(dir).sort()).toEqual(['m.machine']);
      return;
    }
    expect(r.stdout).toMatch(/^\/nonexistent\/qemu-system-x86_64 \\\n/);
    const text = readFileSync(lock, 'utf8');
    expect(readLock(text, 'm.machine.lock').diagnostics).toEqual([]);
    const again = await run(['build', 'm.machine', '--locked'], dir, DEBUG);
    noStack(again.stderr, source);
    expect(again).toEqual({ code: 0, stdout: r.stdout, stderr: r.stderr.replace(/^wrote m\.machine\.lock: .*\n/m, '') });
  }

  /** Regression: a source id like `rp` + 20 digits once overflowed the numbering of created root ports. */
  it('a device called rp + a huge number does not make created root ports share an id', async () => {
    writeFileSync(file, 'machine big {\n  chipset = q35\n  device rp99999999999999999999: virtio-rng-pci\n  device nic0: virtio-net-pci { netdev = user }\n  device nic1: virtio-net-pci { netdev = user }\n}\n');
    rmSync(lock, { force: true });
    expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
    expect(await run(['build', 'm.machine'], dir)).toMatchObject({ code: 0, stderr: '' });
    expect(read(dir, 'm.machine.lock').match(/ pcie-root-port /g)).toHaveLength(3);
  });

  it('build: random mutations of the samples exit 0 or 1', async () => {
    await fc.assert(fc.asyncProperty(mutated, buildOnce), { numRuns: RUNS });
    expect(leftovers(dir)).toEqual([]);
  }, 30_000);

  it('build: random text exits 0 or 1', async () => {
    await fc.assert(fc.asyncProperty(randomSource, buildOnce), { numRuns: RUNS });
  }, 30_000);

  it('check and plan: the same inputs, the same promise', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, randomSource), async (source) => {
        writeFileSync(file, source);
        rmSync(lock, { force: true });
        const check = await runCli(['check', 'm.machine'], dir, DEBUG);
        noStack(check.stderr, source);
        expect([0, 1]).toContain(check.code);
        const plan = await run(['plan', 'm.machine', '--json'], dir, DEBUG);
        noStack(plan.stderr, source);
        expect(plan.code).toBe(check.code);
        if (plan.code === 0) JSON.parse(plan.stdout);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  }, 30_000);

  it.each([
    ['devices', (n: number) => `machine d {\n${'device a: pci-bridge {\n'.repeat(n)}${'}\n'.repeat(n)}}\n`],
    ['lists', (n: number) => `machine d { accel = ${'['.repeat(n)}${']'.repeat(n)} }\n`],
    ['typed blocks', (n: number) => `machine d { display = vnc ${'{ x = vnc '.repeat(n)}${'}'.repeat(n)} }\n`],
  ])('nesting %s 20,000 deep is a diagnostic, not a crash; the next build in the process works', async (_what, nest) => {
    writeFileSync(file, nest(20_000));
    rmSync(lock, { force: true });
    const r = await run(['build', 'm.machine'], dir, DEBUG);
    noStack(r.stderr);
    expect(r).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(/^error\[too-deep\]: m\.machine nests more than 64 levels deep\n\s+--> m\.machine:\d+:\d+\n/) });
    writeFileSync(file, SAMPLES[0]);
    expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
  });

  it('the limit is 64 levels: 64 is read (and judged on its merits), 65 is refused at the 65th bracket', async () => {
    writeFileSync(file, `machine d {\n  accel = ${'['.repeat(63)}kvm${']'.repeat(63)}\n}\n`);
    const ok = await runCli(['check', 'm.machine'], dir);
    expect(ok.stderr).not.toContain('too-deep');
    writeFileSync(file, `machine d {\n  accel = ${'['.repeat(64)}kvm${']'.repeat(64)}\n}\n`);
    const deep = await runCli(['check', 'm.machine'], dir);
    expect(deep.code).toBe(1);
    expect(deep.stderr).toMatch(/^error\[too-deep\]: m\.machine nests more than 64 levels deep\n --> m\.machine:2:74\n/);
  });
});

describe('random lock contents next to a valid machine', () => {
  const dir = scratch({ 'm.machine': SAMPLES[2] }, 'machinec-fuzz-lock-');
  const lockFile = join(dir, 'm.machine.lock');
  let valid = '';
  beforeAll(async () => {
    expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
    valid = read(dir, 'm.machine.lock');
  });

  const lockLines = (): fc.Arbitrary<Buffer> =>
    fc.oneof(
      // whole random text
      fc.string({ unit: 'binary', maxLength: 400 }).map((s) => Buffer.from(s, 'utf8')),
      // the valid lock, mutated
      fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => ms.reduce<Buffer>((b, m) => m(b), Buffer.from(valid, 'utf8'))),
      // the valid lock with one line replaced by tokens
      fc.tuple(fc.nat(), fc.array(fc.constantFrom('pci', 'usb', 'scsi', 'ide', 'hda', 'virtio-serial', '-', '00:02.0', 'ff:1f.7', 'nic0', 'rp10', 'bus=pcie.0', 'addr=1f.7', 'addr=00.8', 'bus=nowhere', 'mac=52:54:00:00:00:00', 'secondary=0', 'secondary=255', 'chassis=256', 'port=9', 'pcie-port=9', 'auto', 'lockfile', '2', 'machine', 'rich', 'pc-q35-1.0', 'uuid=x'), { minLength: 1, maxLength: 9 })).map(([n, words]) => {
        const lines = valid.split('\n');
        lines[n % (lines.length - 1)] = words.join(' ');
        return Buffer.from(lines.join('\n'), 'utf8');
      }),
    );

  /** Regression: a pcie-root-port locked with chassis= but without its port number once crashed emit. */
  it('a root port locked without pcie-port= is repaired, not a crash', async () => {
    const broken = valid.replace(/ pcie-port=\d+ /, ' ');
    expect(broken).not.toBe(valid);
    writeFileSync(lockFile, broken);
    const r = await run(['build', 'm.machine'], dir);
    noStack(r.stderr);
    expect(r.code).toBe(0);
    expect(readFileSync(lockFile, 'utf8')).toBe(valid); // the port it would have had is written back
  });

  it('build exits 1 with a lock diagnostic when the lock does not parse, and never rewrites it', async () => {
    let unparsable = 0;
    await fc.assert(
      fc.asyncProperty(lockLines(), async (contents) => {
        writeFileSync(lockFile, contents);
        const before = snapshot(dir, 'm.machine.lock');
        const r = await run(['build', 'm.machine'], dir, DEBUG);
        noStack(r.stderr, contents);
        expect([0, 1]).toContain(r.code);
        const parsed = readLock(contents.toString('utf8'), 'm.machine.lock');
        if (!parsed.lock) {
          unparsable++;
          expect(r.code).toBe(1);
          expect(r.stdout).toBe('');
          expect(r.stderr).toMatch(/^error\[lock-[a-z]+\]: /);
        }
        if (r.code === 1) expect(snapshot(dir, 'm.machine.lock')).toEqual(before);
        else expect(readLock(read(dir, 'm.machine.lock'), 'm.machine.lock').diagnostics).toEqual([]);
        // The other commands that write locks keep their hands off too.
        for (const args of [['lock', 'm.machine'], ['prune', 'm.machine']]) {
          writeFileSync(lockFile, contents);
          const again = await run(args, dir, DEBUG);
          noStack(again.stderr, contents);
          expect([0, 1]).toContain(again.code);
          if (!parsed.lock) expect(again.code).toBe(1);
          if (again.code === 1) expect(readFileSync(lockFile)).toEqual(contents);
        }
      }),
      { numRuns: RUNS },
    );
    expect(unparsable).toBeGreaterThan(RUNS / 4);
    expect(leftovers(dir)).toEqual([]);
  }, 30_000);

  it('diff over random locks exits 0, 1 or 2, never a stack', async () => {
    put(dir, 'good.lock', valid);
    await fc.assert(
      fc.asyncProperty(lockLines(), fc.boolean(), async (contents, first) => {
        writeFileSync(join(dir, 'other.lock'), contents);
        const r = await runCli(['diff', ...(first ? ['other.lock', 'good.lock'] : ['good.lock', 'other.lock'])], dir, DEBUG);
        noStack(r.stderr, contents);
        expect([0, 1, 2]).toContain(r.code);
        if (!readLock(contents.toString('utf8'), 'other.lock').lock) expect(r.code).toBe(2);
      }),
      { numRuns: RUNS },
    );
  }, 30_000);
});

describe('atomic writes', () => {
  const BROKEN_LOCKS: Record<string, string> = {
    'conflict markers': 'lockfile 1\n<<<<<<< HEAD\nmachine m pc-q35-7.2 uuid=1\n=======\n>>>>>>> other\n',
    'a newer format': 'lockfile 3\nmachine m pc-q35-7.2 uuid=1\n',
    'cut short': 'lockfile 1\nmachine office pc-q35-7.2 uuid=295afe92-b80c-4764-be60-276e97b07dec\npci 00:01.0 video VGA bus=pcie.0 ad',
    garbage: '\u0000\u0001PK\u0003\u0004 not a lock\n',
    'empty': '',
  };

  it.each(Object.entries(BROKEN_LOCKS))('a lock with %s is never overwritten, by any command', async (_what, broken) => {
    const dir = scratch({ 'office.machine': SAMPLES[0], 'office.machine.lock': broken });
    const before = snapshot(dir, 'office.machine.lock');
    for (const args of [['build', 'office.machine', ...Q], ['lock', '.', ...Q], ['prune', 'office.machine', ...Q], ['rename', 'office.machine', 'nic0', 'lan0'], ['plan', 'office.machine', ...Q], ['check']]) {
      const r = await runCli(args, dir);
      noStack(r.stderr);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/error\[lock-[a-z]+\]: /);
      expect(snapshot(dir, 'office.machine.lock')).toEqual(before);
    }
    expect(tree(dir)).toEqual({ 'office.machine': SAMPLES[0], 'office.machine.lock': Buffer.from(broken, 'utf8').toString('latin1') });
  });

  it('builds, locks, prunes and renames leave no temporary files', async () => {
    const dir = scratch({ 'a.machine': SAMPLES[0], 'b/c.machine': SAMPLES[1] });
    await run(['build', 'a.machine'], dir);
    await run(['lock'], dir);
    put(dir, 'a.machine', SAMPLES[0].replace(/ {2}device disk0[^]*?\n {2}}\n/, ''));
    await run(['build', 'a.machine'], dir);
    await run(['prune', 'a.machine'], dir);
    await runCli(['rename', 'b/c.machine', 'nic0', 'lan0'], dir);
    expect(read(dir, 'b/c.machine')).toContain('device lan0:');
    expect(Object.keys(tree(dir))).toEqual(['a.machine', 'a.machine.lock', 'b/c.machine', 'b/c.machine.lock']);
  });

  describe('concurrent builds of the bundled binary', () => {
    beforeAll(ensureBin, 120_000);

    const node = (args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((done, fail) => {
        const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('error', fail);
        child.on('close', (code) => done({ code, stdout, stderr }));
      });

    it('eight builds at once leave one whole lock, equal to a sequential build’s', async () => {
      const rich = SAMPLES[2];
      const sequential = scratch({ 'm.machine': rich });
      expect((await run(['build', 'm.machine'], sequential)).code).toBe(0); // in-process: the same code as the bundle
      const expected = read(sequential, 'm.machine.lock');

      const dir = scratch({ 'm.machine': rich });
      const runs = await Promise.all(Array.from({ length: 8 }, () => node(['build', 'm.machine', '--qemu', NO_QEMU], dir)));
      for (const r of runs) {
        expect(r.code).toBe(0);
        noStack(r.stderr);
      }
      expect(runs.every((r) => r.stdout === runs[0].stdout)).toBe(true);
      expect(read(dir, 'm.machine.lock')).toBe(expected);
      expect(readLock(expected, 'm.machine.lock').diagnostics).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual(['m.machine', 'm.machine.lock']);

      // Again, four updating the same lock after an edit (build and lock mixed).
      const edited = rich.replace('device rng: virtio-rng-pci', 'device rng: virtio-rng-pci\n  device nic9: virtio-net-pci { netdev = user }');
      put(sequential, 'm.machine', edited);
      expect((await run(['build', 'm.machine'], sequential)).code).toBe(0);
      put(dir, 'm.machine', edited);
      const updates = await Promise.all(Array.from({ length: 4 }, (_, i) => node(i % 2 ? ['lock', '--qemu', NO_QEMU] : ['build', 'm.machine', '--qemu', NO_QEMU], dir)));
      expect(updates.map((r) => r.code)).toEqual(Array(4).fill(0));
      expect(read(dir, 'm.machine.lock')).toBe(read(sequential, 'm.machine.lock'));
      expect(readdirSync(dir).sort()).toEqual(['m.machine', 'm.machine.lock']);
    }, 30_000);
  });
});

describe('the build path does not load prettier or the language server packages', () => {
  beforeAll(ensureBin, 120_000);

  /** Runs the bundled binary with specs/cli/resolve-log.mjs preloaded; returns every module it resolved. */
  function resolved(args: string[], cwd: string): { code: number | null; modules: string[]; stderr: string } {
    const log = join(cwd, '..', `${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
    writeFileSync(log, '');
    const r = spawnSync(process.execPath, ['--import', join(GOLDENS, 'resolve-log.mjs'), BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, MACHINEC_RESOLVE_LOG: log } });
    const modules = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    rmSync(log);
    return { code: r.status, modules, stderr: r.stderr };
  }

  it('build, check, plan and lock resolve no prettier or vscode-languageserver module; fmt and lsp do (the hook works)', () => {
    const parent = scratch({}, 'machinec-hook-');
    const dir = join(parent, 'vm');
    put(dir, 'office.machine', SAMPLES[0]);
    for (const args of [['build', 'office.machine', '--qemu', NO_QEMU], ['check'], ['plan', 'office.machine', '--qemu', NO_QEMU], ['lock', '--qemu', NO_QEMU]]) {
      const r = resolved(args, dir);
      expect({ args, code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
      expect(r.modules).toContain(new URL(`file://${BIN}`).href);
      expect(r.modules.filter((m) => /prettier|vscode-languageserver/.test(m))).toEqual([]);
    }
    const fmt = resolved(['fmt', '--check'], dir);
    expect([0, 1]).toContain(fmt.code);
    expect(fmt.modules.some((m) => /\/node_modules\/prettier\//.test(m))).toBe(true);
    // The language server loads its protocol packages (stdin at its end: it starts, then exits).
    const lsp = resolved(['lsp', '--stdio'], dir);
    expect(lsp.modules.some((m) => /\/node_modules\/vscode-languageserver\//.test(m))).toBe(true);
    expect(lsp.modules.some((m) => /\/node_modules\/vscode-languageserver-textdocument\//.test(m))).toBe(true);
  }, 20_000);

});
