/**
 * QEMU's keyval syntax for option values (`-device virtio-net-pci,id=nic0,mac=…`): parts split
 * at single commas, a comma inside a value written twice. The one place machinec escapes a
 * value for it; every printer of an option value goes through `keyvalText`.
 */
import { splitAt } from '../text.js';

/** An ordered key/value list, as QEMU reads it (a key may repeat: `hostfwd=…,hostfwd=…`). */
export type KeyvalPairs = readonly (readonly [key: string, value: string, ...rest: unknown[]])[];

const COMMAS = /,/g;

/** A value (or the option's leading part) as QEMU's option parser reads it back: `,` becomes `,,`. */
export const escapeKeyval = (v: string): string => (v.includes(',') ? v.replace(COMMAS, ',,') : v);

/** `head,k=v,…` with every value escaped; without a head the value starts at the first pair. */
export function keyvalText(head: string | undefined, pairs: KeyvalPairs): string {
  let out = head === undefined ? '' : escapeKeyval(head);
  for (let i = 0; i < pairs.length; i++) {
    const [k, v] = pairs[i];
    out += `${i > 0 || head !== undefined ? ',' : ''}${k}=${escapeKeyval(v)}`;
  }
  return out;
}

/** An option value's parts as QEMU's option parser reads them: split at single commas, `,,` a comma inside a part. */
export function splitKeyval(text: string): string[] {
  if (!text.includes(',,')) return splitAt(text, ',');
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',' && text[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (text[i] === ',') {
      parts.push(cur);
      cur = '';
    } else cur += text[i];
  }
  parts.push(cur);
  return parts;
}
