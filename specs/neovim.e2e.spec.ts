/**
 * The Neovim 0.7 configuration in docs/editors.md, as the guide prints it, run in the installed Neovim
 * (Debian 12's is 0.7.2; skipped with a message where there is no nvim): the language server's
 * diagnostics reach the buffer, and saving formats the file as `machinec fmt` does.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshBin, REPO } from './support/bin.js';
import { tempFolder } from './support/temp.js';

const NVIM = spawnSync('nvim', ['--version'], { encoding: 'utf8' }).status === 0;
if (!NVIM) console.warn('neovim.e2e: nvim not found: skipping (Debian: apt-get install neovim)');
if (!NVIM && process.env.CI) {
  test('Neovim is installed (.ci/run installs Debian\'s neovim; required in CI)', () => {
    throw new Error('nvim not found and CI is set: the Neovim spec must run');
  });
}

/** The guide's Lua blocks; the 0.7 one is the block after the heading that names it. */
function guideConfig(): string {
  const page = readFileSync(join(REPO, 'docs', 'editors.md'), 'utf8');
  const section = page.slice(page.indexOf('**Neovim 0.7**'));
  return /```lua\n([\s\S]*?)```/.exec(section)![1];
}

(NVIM ? describe : describe.skip)('Neovim with the guide\'s 0.7 configuration', () => {
  const dir = tempFolder('machinec-nvim-');
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data'), XDG_STATE_HOME: join(dir, 'state') };
  beforeAll(() => {
    symlinkSync(freshBin(), join(dir, 'machinec'));
    writeFileSync(join(dir, 'init.lua'), guideConfig());
  });
  const nvim = (file: string, ...commands: string[]) =>
    spawnSync('nvim', ['--headless', '-u', join(dir, 'init.lua'), ...commands.flatMap((c) => ['-c', c]), '-c', 'qa!', file], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });

  test('the server\'s diagnostics reach the buffer', () => {
    writeFileSync(join(dir, 'bad.machine'), 'machine m {\n  chipset = q35\n  device nic0: virtio-net { netdev = user }\n}\n');
    const r = nvim(
      'bad.machine',
      'lua vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50)',
      "lua local f = io.open('diagnostics.txt', 'w'); f:write(vim.bo.filetype, '\\n'); for _, d in ipairs(vim.diagnostic.get(0)) do f:write(tostring(d.code), ' ', d.lnum, ' ', d.message, '\\n') end; f:close()",
    );
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'diagnostics.txt'), 'utf8')).toBe('machine\nunknown-model 2 unknown device model virtio-net\n');
  });

  test('saving formats the file as machinec fmt does', () => {
    const ugly = 'machine m {\n    chipset   = q35\n  memory=1G\n  device nic0: e1000 {netdev = user}\n}\n';
    writeFileSync(join(dir, 'ugly.machine'), ugly);
    const r = nvim('ugly.machine', 'lua vim.wait(20000, function() local c = vim.lsp.get_active_clients()[1]; return c ~= nil and c.initialized end, 50)', 'w');
    expect(r.status).toBe(0);
    const saved = readFileSync(join(dir, 'ugly.machine'), 'utf8');
    expect(saved).not.toBe(ugly);
    writeFileSync(join(dir, 'fmt.machine'), ugly);
    expect(spawnSync('machinec', ['fmt', 'fmt.machine'], { cwd: dir, env }).status).toBe(0);
    expect(saved).toBe(readFileSync(join(dir, 'fmt.machine'), 'utf8'));
  });
});
