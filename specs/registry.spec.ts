/**
 * Every diagnostic machinec emits is a registered check's id: what the parser and the lock reader
 * make is relayed by the check of its code, and a code no check registers fails loudly.
 */
import { lockReadChecks, parserChecks, relayRead } from '../compiler/checks/lock.js';
import type { Diagnostic } from '../compiler/index.js';

const made = (code: string): Diagnostic => ({ code, severity: 'error', message: 'm', file: 'x.machine', span: { start: 0, end: 1 } });

describe('relaying what the parser and the lock reader found', () => {
  test('a registered code is reported by its check, in order', () => {
    const out = relayRead(parserChecks, [made('too-deep'), made('syntax-error')], 'x.machine', []);
    expect(out.map((d) => d.code)).toEqual(['too-deep', 'syntax-error']);
  });
  test('an unregistered code throws naming it, it is never dropped', () => {
    expect(() => relayRead(parserChecks, [made('syntax-error'), made('brand-new-code')], 'x.machine', [])).toThrow(/brand-new-code is not a registered check/);
    expect(() => relayRead(lockReadChecks, [made('syntax-error')], 'x.machine.lock', [])).toThrow(/syntax-error is not a registered check/);
  });
});
