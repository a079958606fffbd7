/**
 * Help for a newcomer: every command's --help ends with an example whose options the command has, and
 * `machinec help TOPIC` prints the guide's page as it is in docs/, through the terminal escaping.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { terminalText } from '../cli/package-files.js';
import { REPO } from './support/bin.js';
import { runCli } from './support/cli.js';

/** The commands `machinec --help` lists. */
async function commandNames(): Promise<string[]> {
  const r = await runCli(['--help'], REPO);
  const section = r.stdout.split(/^Commands:\n/m)[1];
  return section.split('\n').flatMap((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1] ?? []);
}

test('machinec --help lists the commands and says where to start', async () => {
  const r = await runCli(['--help'], REPO);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('machinec init');
  expect(await commandNames()).toEqual(expect.arrayContaining(['build', 'run', 'init', 'help', 'lock', 'import', 'verify']));
});

test('each command\'s --help ends with examples, and each option an example uses is one the command lists', async () => {
  const names = await commandNames();
  expect(names.length).toBeGreaterThan(15);
  for (const name of names) {
    const r = await runCli([name, '--help'], REPO);
    expect(r.code).toBe(0);
    const [usage, examples] = r.stdout.split(/\nExamples?:\n/);
    expect(examples).toBeDefined();
    const lines = examples.split('\n').filter((l) => l.startsWith('  $ '));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines.filter((l) => l.startsWith(`  $ machinec ${name}`))) {
      const words = line.replace(/\s+#.*$/, '').replace(/ -- .*$/, '').split(/\s+/);
      for (const option of words.filter((w) => /^--?[a-z]/.test(w))) expect(usage).toContain(option);
    }
    // `machinec help NAME` says the same.
    expect((await runCli(['help', name], REPO)).stdout).toBe(r.stdout);
  }
});

test('machinec help TOPIC prints the docs/ page; help alone lists every page', async () => {
  const pages = readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md'));
  const list = await runCli(['help'], REPO);
  expect(list.code).toBe(0);
  for (const page of pages) expect(list.stdout).toMatch(new RegExp(`^  ${page.slice(0, -3)} `, 'm'));
  for (const topic of ['lockfile', 'editors', 'review']) {
    const r = await runCli(['help', topic], REPO);
    expect(r).toEqual({ code: 0, stdout: readFileSync(join(REPO, 'docs', `${topic}.md`), 'utf8'), stderr: '' });
  }
});

test('an unknown topic is a usage diagnostic naming the topics', async () => {
  const r = await runCli(['help', 'lockfiles\x1b[2J'], REPO);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('error[usage]: no help topic or command named "lockfiles\\u001b[2J"');
  expect(r.stderr).toContain('hint: topics: ');
  expect(r.stderr).not.toContain('\x1b');
});

test('terminal text: control characters, C1 controls and bidi overrides are shown, not obeyed', () => {
  expect(terminalText('a\x1b[31mb\x07c\x9b2Jd\u202ee\r\nline\tend\n')).toBe('a\\u{1b}[31mb\\u{7}c\\u{9b}2Jd\\u{202e}e\\u{d}\nline\tend\n');
  expect(terminalText('plain text, ünïcode and emoji 🙂\n')).toBe('plain text, ünïcode and emoji 🙂\n');
});
