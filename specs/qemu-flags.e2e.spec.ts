/**
 * `import` reads a QEMU command line word by word, so it must know which options take no
 * argument. The installed QEMU's `-help` says it: an option line whose text after the name is
 * only a description (words one space apart) takes none; `-dtb    file    use …` takes one.
 */
import { spawnSync } from 'node:child_process';
import { FLAGS } from '../cli/import/qemu-syntax.js';
import { QEMU, qemuDescribe } from './support/qemu.js';

function helpOptions(): Map<string, boolean> {
  const help = spawnSync(QEMU!, ['-help'], { encoding: 'utf8' }).stdout;
  const takesArgument = new Map<string, boolean>();
  for (const line of help.split('\n')) {
    const m = /^--?([A-Za-z0-9_-]+)(?: or -([A-Za-z0-9_-]+))?(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[3];
    const flag = rest === '' || (/^\s{2,}\S/.test(rest) && !/\S\s{2,}\S/.test(rest.trim()));
    for (const name of [m[1], m[2]].filter(Boolean)) takesArgument.set(name, !flag);
  }
  return takesArgument;
}

qemuDescribe('QEMU options without an argument', () => {
  it('every option -help lists without an argument is a flag to import, and no flag takes one', () => {
    const options = helpOptions();
    expect(options.size).toBeGreaterThan(80);
    expect(options.get('mem-prealloc')).toBe(false);
    expect(options.get('dtb')).toBe(true);
    expect([...options].filter(([name, takes]) => !takes && !FLAGS.has(name))).toEqual([]);
    expect([...FLAGS].filter((name) => options.get(name) === true)).toEqual([]);
  });
});
