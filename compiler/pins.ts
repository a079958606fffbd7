/**
 * Generated guest-visible values: deterministic from the machine name and device id, so the
 * first build is the same on every machine; locked afterwards, so a rename keeps them.
 */

/** FNV-1a, 32 bits. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** A locally administered QEMU MAC (52:54:00 prefix) that no other device of the machine has. */
export function macFor(machine: string, id: string, taken: ReadonlySet<string>): string {
  for (let attempt = 0; ; attempt++) {
    const h = fnv1a(`${machine}/${id}/${attempt}`) & 0xffffff;
    const mac = `52:54:00:${hex(h >> 16, 2)}:${hex((h >> 8) & 0xff, 2)}:${hex(h & 0xff, 2)}`;
    if (!taken.has(mac)) return mac;
  }
}

/** A version-4-shaped UUID derived from the machine name. */
export function uuidFor(machine: string): string {
  const words = [0, 1, 2, 3].map((i) => hex(fnv1a(`${machine}#${i}`, 0x811c9dc5 ^ (i * 0x9e3779b9)), 8)).join('');
  const variant = ((parseInt(words[16], 16) & 0x3) | 0x8).toString(16);
  return `${words.slice(0, 8)}-${words.slice(8, 12)}-4${words.slice(13, 16)}-${variant}${words.slice(17, 20)}-${words.slice(20, 32)}`;
}
