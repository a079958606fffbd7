/**
 * The package as a new user installs it, with no registry: `npm pack` (the runtime dependencies are bundled in
 * the tarball), then the install step of examples/machinec-review.yml run as it is, into a temporary prefix with an
 * empty npm cache and npm offline. The installed binary, outside any checkout, prints its version, builds a sample
 * as the checkout's binary does, formats with the bundled prettier, prints the guide and sets up a repository.
 * `npm install -g .` from the checkout (README: Install) installs a working binary too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshBin, REPO } from './support/bin.js';
import { tempFolder } from './support/temp.js';

const bin = freshBin();
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const work = tempFolder('machinec-install-');
/** npm with no registry to reach and nothing cached: whatever it installs comes from the tarball or the checkout. */
const offline = { ...process.env, npm_config_offline: 'true', npm_config_cache: join(work, 'empty-cache'), npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

const run = (file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env) => {
  const r = spawnSync(file, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** The sample office machine and its lock, in a fresh folder outside the checkout. */
function office(): string {
  const dir = join(tempFolder('machinec-install-office-'), 'vm');
  mkdirSync(dir);
  for (const f of ['office.machine', 'office.machine.lock']) cpSync(join(REPO, 'samples', f), join(dir, f));
  return dir;
}

test('the package bundles every dependency it has, so the tarball installs offline', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; bundleDependencies: string[] };
  expect([...pkg.bundleDependencies].sort()).toEqual(Object.keys(pkg.dependencies).sort());
});

describe('the packed tarball', () => {
  let installed = '';
  beforeAll(() => {
    const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: REPO, env: offline, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const tarball = join(work, packed.trim().split('\n').at(-1)!);
    expect(existsSync(tarball)).toBe(true);
    // The CI example's own install step, word for word.
    const workflow = readFileSync(join(REPO, 'examples', 'machinec-review.yml'), 'utf8');
    const step = /^\s+run: (npm install --global .*)$/m.exec(workflow)![1];
    const r = run('sh', ['-c', step], work, { ...offline, MACHINEC_PACKAGE: tarball, npm_config_prefix: join(work, 'prefix') });
    expect(r).toMatchObject({ code: 0 });
    installed = join(work, 'prefix', 'bin', 'machinec');
  }, 300_000);

  test('machinec --version is the package version', () => {
    expect(run(installed, ['--version'], work)).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  test('builds a sample as the checkout\'s binary does, and formats with its bundled prettier', () => {
    const dir = office();
    const built = run(installed, ['build', 'office.machine', '--locked', '--qemu', '/nonexistent/qemu-system-x86_64'], dir);
    const here = run(process.execPath, [bin, 'build', 'office.machine', '--locked', '--qemu', '/nonexistent/qemu-system-x86_64'], dir);
    expect(built.code).toBe(0);
    expect(built.stdout).toMatch(/^\S*qemu-system-x86_64 \\\n  -name office /);
    expect(built).toEqual(here);
    expect(run(installed, ['fmt', '--check', 'office.machine'], dir)).toMatchObject({ code: 0 });
  });

  test('carries the guide and the review workflow: help prints a page, init sets up a repository', () => {
    expect(run(installed, ['help', 'review'], work)).toEqual({ code: 0, stdout: readFileSync(join(REPO, 'docs', 'review.md'), 'utf8'), stderr: '' });
    const dir = office();
    execFileSync('git', ['init', '-q'], { cwd: dir });
    const r = run(installed, ['init'], dir);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, '.github', 'workflows', 'machinec-review.yml'), 'utf8')).toBe(readFileSync(join(REPO, 'examples', 'machinec-review.yml'), 'utf8'));
  });
});

test('npm install -g . from the checkout puts a working machinec on PATH', () => {
  const prefix = join(work, 'from-checkout');
  const r = run('npm', ['install', '--global', '--ignore-scripts', '--prefix', prefix, '.'], REPO, offline);
  expect(r).toMatchObject({ code: 0 });
  expect(run(join(prefix, 'bin', 'machinec'), ['--version'], work)).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
}, 120_000);
