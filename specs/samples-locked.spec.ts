/**
 * Every committed sample lock is current: `machinec build --locked` on each samples/*.machine.lock
 * (beside its samples/*.machine) succeeds, rewrites nothing, and prints the command line the build
 * golden of that sample pins (specs/build/samples-NAME/expected.args).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanScratch, leftovers, run, SAMPLES, scratch, snapshot, tree } from './cli/harness.js';

const locks = readdirSync(SAMPLES).filter((f) => f.endsWith('.machine.lock')).sort();
const BUILD = join(process.cwd(), 'specs', 'build');

afterAll(cleanScratch);

describe('machinec build --locked on every committed sample lock', () => {
  test('there are sample locks, and every sample has one', () => {
    expect(locks.length).toBeGreaterThanOrEqual(4);
    const sources = readdirSync(SAMPLES).filter((f) => f.endsWith('.machine')).sort();
    expect(locks.map((l) => l.slice(0, -'.lock'.length))).toEqual(sources);
  });

  test.each(locks)('%s', async (lock) => {
    const source = lock.slice(0, -'.lock'.length);
    const dir = scratch({ [source]: readFileSync(join(SAMPLES, source), 'utf8'), [lock]: readFileSync(join(SAMPLES, lock), 'utf8') });
    const before = snapshot(dir, lock);
    const r = await run(['build', source, '--locked'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(snapshot(dir, lock)).toEqual(before);
    expect(Object.keys(tree(dir))).toEqual([source, lock].sort());
    expect(leftovers(dir)).toEqual([]);
    // The printed command line is the golden's, word for word (the golden has one option a line; the binary differs).
    const golden = readFileSync(join(BUILD, `samples-${source.replace(/\.machine$/, '')}`, 'expected.args'), 'utf8');
    const words = (text: string): string[] => text.replace(/ \\\n/g, '\n').split('\n').map((l) => l.trim()).filter(Boolean);
    expect(words(r.stdout).slice(1)).toEqual(words(golden).slice(1));
  });
});
