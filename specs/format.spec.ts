/**
 * Golden tests for the prettier plugin: every `specs/format/<case>/input.machine` must format
 * to the `output.machine` beside it (with the prettier options in `options.json`, when there
 * is one), and formatting that output again must change nothing.
 *
 * After a deliberate style change, regenerate the expected outputs with
 *   UPDATE_GOLDENS=1 NODE_OPTIONS=--experimental-vm-modules npx jest specs/format.spec.ts
 * and review the diff.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import plugin from '../prettier-plugin/index.js';
import { expectGolden } from './support/golden.js';

const root = join(process.cwd(), 'specs', 'format');
const cases = readdirSync(root, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(root, e.name, 'input.machine')))
  .map((e) => e.name)
  .sort();

const format = (text: string, options: prettier.Options = {}): Promise<string> =>
  prettier.format(text, { ...options, parser: 'machine', plugins: [plugin] });

describe('format goldens', () => {
  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(22);
  });

  describe.each(cases)('%s', (name) => {
    const dir = join(root, name);
    const input = readFileSync(join(dir, 'input.machine'), 'utf8');
    const optionsFile = join(dir, 'options.json');
    const options: prettier.Options = existsSync(optionsFile) ? JSON.parse(readFileSync(optionsFile, 'utf8')) : {};
    const outputFile = join(dir, 'output.machine');

    it('formats to output.machine', async () => {
      const output = await format(input, options);
      expectGolden(outputFile, output);
    });

    it('leaves output.machine as it is', async () => {
      const expected = readFileSync(outputFile, 'utf8');
      expect(await format(expected, options)).toBe(expected);
    });
  });
});

describe('the golden cases cover the samples', () => {
  const samples = readdirSync(join(process.cwd(), 'samples')).filter((f) => f.endsWith('.machine'));
  // A copy, so that editing a sample does not silently change what the golden pins down.
  it.each(samples)('%s has a case sample-<name>', (sample) => {
    expect(cases).toContain(`sample-${sample.replace(/\.machine$/, '')}`);
  });
});
