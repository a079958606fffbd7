/**
 * What `import --libvirt` read of a domain: the readers (cli/import/libvirt.ts, libvirt-vm.ts) see
 * the tree through `watch`, which records every element whose attributes, text or children they
 * look at and every attribute they read. After reading, `unread` walks the whole domain and names
 * each element and attribute no reader looked at, so nothing the XML says is dropped unseen: it is
 * carried, an error, a warning, or one of the few things that do not change what the guest sees.
 */
import type { XmlNode } from './libvirt-xml.js';

export interface Seen {
  /** The tree as the readers see it: the same nodes, recorded as they are read. */
  readonly root: XmlNode;
  /** An element and all it holds taken as said (a note or an error already names it). */
  consume(n: XmlNode | undefined): void;
  /** Every element and attribute no reader looked at, outermost first, except what `notNeeded` explains. */
  unread(notNeeded: NotNeeded): { notCarried: string[]; notNeeded: string[] };
}

/** Why a thing does not change the guest, given its element, the element's path (`domain/devices/disk/target`) and the attribute; `undefined` when it may. */
export type NotNeeded = (n: XmlNode, path: string, attr?: string) => string | undefined;

const WATCHED = new Set(['attrs', 'text', 'children', 'line']);

export function watch(tree: XmlNode): Seen {
  const elements = new WeakSet<XmlNode>();
  const attrs = new WeakMap<XmlNode, Set<string>>();
  const views = new WeakMap<XmlNode, XmlNode>();
  const raw = new WeakMap<object, XmlNode>();
  const read = (n: XmlNode): Set<string> => attrs.get(n) ?? (attrs.set(n, new Set()), attrs.get(n)!);
  const view = (n: XmlNode): XmlNode => {
    const known = views.get(n);
    if (known) return known;
    const attrView = new Proxy(n.attrs, {
      get: (t, k) => (typeof k === 'string' && read(n).add(k), Reflect.get(t, k)),
      has: (t, k) => (typeof k === 'string' && read(n).add(k), Reflect.has(t, k)),
      ownKeys: (t) => (Object.keys(t).forEach((k) => read(n).add(k)), Reflect.ownKeys(t)),
    });
    let kids: XmlNode[] | undefined;
    const v = new Proxy(n, {
      get: (t, k) => {
        if (typeof k === 'string' && WATCHED.has(k)) elements.add(n);
        if (k === 'attrs') return attrView;
        if (k === 'children') return (kids ??= n.children.map(view));
        return Reflect.get(t, k);
      },
    });
    views.set(n, v);
    raw.set(v, n);
    return v;
  };
  const consume = (given: XmlNode | undefined): void => {
    const stack = given ? [raw.get(given) ?? given] : [];
    for (let n = stack.pop(); n; n = stack.pop()) {
      elements.add(n);
      Object.keys(n.attrs).forEach((k) => read(n!).add(k));
      stack.push(...n.children);
    }
  };
  const unread = (notNeeded: NotNeeded) => {
    const out = { notCarried: [] as string[], notNeeded: [] as string[] };
    const stack: [XmlNode, string][] = [[tree, tree.name]];
    for (let top = stack.pop(); top; top = stack.pop()) {
      const [n, path] = top;
      const whyElement = notNeeded(n, path);
      if (whyElement !== undefined && !elements.has(n)) {
        out.notNeeded.push(`<${n.name}> (line ${n.line}): ${whyElement}`);
        continue;
      }
      if (!elements.has(n)) {
        out.notCarried.push(`<${n.name}${attrText(n, Object.keys(n.attrs))}> (line ${n.line})`);
        continue;
      }
      for (const k of Object.keys(n.attrs).filter((a) => !read(n).has(a))) {
        const why = notNeeded(n, path, k);
        // With its name (`<timer name='hpet' present='no'>`) when it has one.
        const shown = n.attrs.name !== undefined && k !== 'name' ? ['name', k] : [k];
        if (why !== undefined) out.notNeeded.push(`<${n.name}${attrText(n, shown)}> (line ${n.line}): ${why}`);
        else out.notCarried.push(`<${n.name}${attrText(n, shown)}> (line ${n.line})`);
      }
      stack.push(...[...n.children].reverse().map((c): [XmlNode, string] => [c, `${path}/${c.name}`]));
    }
    return out;
  };
  return { root: view(tree), consume, unread };
}

/** ` k='v'` for each named attribute, as a message quotes the XML (values cut at 60 characters). */
function attrText(n: XmlNode, keys: readonly string[]): string {
  return keys.map((k) => ` ${k}='${n.attrs[k].length > 60 ? `${n.attrs[k].slice(0, 57)}...` : n.attrs[k]}'`).join('');
}
