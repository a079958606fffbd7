/**
 * `lockfile 2` and the locks written before it. Format 2 gives a root port's PCIe port number its
 * own key (`pcie-port=`); format 1 wrote it as `port=`, the key of a USB device's port.
 *
 * For every committed lock (samples/*.machine.lock and every build golden's expected.lock), the
 * format-1 text is made from the committed one by the literal rule of the format change, then
 * read and built: every address is kept, nothing in the plan changes, and the lock written back
 * is the committed format-2 text, byte for byte.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, readLock } from '../compiler/index.js';
import { runCli } from './support/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));

interface CommittedLock {
  readonly name: string;
  readonly sourceFile: string;
  readonly source: string;
  readonly lock: string;
}

function committedLocks(): CommittedLock[] {
  const out: CommittedLock[] = [];
  const samples = join(root, 'samples');
  for (const f of readdirSync(samples).filter((n) => n.endsWith('.machine.lock')).sort()) {
    const sourceFile = f.replace(/\.lock$/, '');
    out.push({ name: `samples/${f}`, sourceFile, source: readFileSync(join(samples, sourceFile), 'utf8'), lock: readFileSync(join(samples, f), 'utf8') });
  }
  const builds = join(root, 'specs', 'build');
  for (const c of readdirSync(builds).sort()) {
    const lock = join(builds, c, 'expected.lock');
    if (!existsSync(lock)) continue;
    const sample = c.startsWith('samples-') ? join(samples, `${c.slice('samples-'.length)}.machine`) : join(builds, c, 'input.machine');
    const sourceFile = `${c.replace(/^samples-/, '')}.machine`;
    out.push({ name: `specs/build/${c}/expected.lock`, sourceFile, source: readFileSync(sample, 'utf8'), lock: readFileSync(lock, 'utf8') });
  }
  return out;
}

/** The format change, undone: what machinec wrote for the same placement before `lockfile 2`. */
function asFormat1(lock: string): string {
  return lock
    .split('\n')
    .map((line) => (line === 'lockfile 2' ? 'lockfile 1' : / pcie-root-port /.test(line) ? line.replace(/ pcie-port=/, ' port=') : line))
    .join('\n');
}

const locks = committedLocks();

test('the committed locks are format 2, and enough of them have root ports to test the rename', () => {
  expect(locks.length).toBeGreaterThanOrEqual(20);
  for (const l of locks) expect(l.lock.split('\n')[2]).toBe('lockfile 2');
  const withRootPorts = locks.filter((l) => / pcie-root-port .* pcie-port=\d+/.test(l.lock));
  expect(withRootPorts.length).toBeGreaterThanOrEqual(10);
  for (const l of locks) expect(l.lock).not.toMatch(/ pcie-root-port [^\n]* port=/);
});

describe.each(locks.map((l) => [l.name, l] as const))('%s read as format 1', (_name, l) => {
  const v1 = asFormat1(l.lock);

  test('reads with every address and value kept', () => {
    const old = readLock(v1, `${l.sourceFile}.lock`);
    const now = readLock(l.lock, `${l.sourceFile}.lock`);
    expect(old.diagnostics).toEqual([]);
    expect(now.diagnostics).toEqual([]);
    expect(old.lock).toEqual(now.lock);
  });

  test('the next build writes the format-2 lock, and the plan shows no change', () => {
    const c = compile({ file: l.sourceFile, source: l.source, lock: { file: `${l.sourceFile}.lock`, text: v1 } });
    expect(c.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(c.lockText).toBe(l.lock);
    expect(c.plan!.changes).toEqual([]);
    expect(c.plan!.machine).toEqual([]);
    expect(c.plan!.guestVisible).toBe(false);
  });
});

test('machinec build upgrades a format-1 lock on disk, keeping every address', async () => {
  const office = locks.find((l) => l.name === 'samples/office.machine.lock')!;
  const dir = mkdtempSync(join(tmpdir(), 'machinec-lockv1-'));
  try {
    writeFileSync(join(dir, 'office.machine'), office.source);
    writeFileSync(join(dir, 'office.machine.lock'), asFormat1(office.lock));
    expect(readFileSync(join(dir, 'office.machine.lock'), 'utf8')).toMatch(/^lockfile 1$/m);
    const r = await runCli(['build', 'office.machine', '--qemu', '/nonexistent/qemu-system-x86_64'], dir);
    expect(r.stderr).toMatch(/^updated office\.machine\.lock: 0 added, 0 removed, 0 moved, 0 changed$/m);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'office.machine.lock'), 'utf8')).toBe(office.lock);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
