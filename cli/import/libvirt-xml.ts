/**
 * A small strict XML reader for libvirt domain XML (what `virsh dumpxml` writes): elements,
 * attributes in single or double quotes, text, comments, CDATA, the XML declaration, the five
 * named entities and numeric character references. No DTDs, no external entities, no
 * processing instructions beyond the declaration: anything else is an error with line and
 * column, never a guess.
 */

export interface XmlNode {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlNode[];
  /** The element's own text (children's text not included), trimmed. */
  text: string;
  /** 1-based line of the start tag. */
  readonly line: number;
}

export class XmlError extends Error {
  constructor(message: string, readonly line: number, readonly col: number) {
    super(`${message} (line ${line}, column ${col})`);
  }
}

const NAME = /[A-Za-z_][\w.:-]*/y;
const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function parseXml(text: string): XmlNode {
  let pos = 0;
  const where = (at = pos): [number, number] => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    return [line, at - before.lastIndexOf('\n')];
  };
  const fail = (message: string, at = pos): never => {
    throw new XmlError(message, ...where(at));
  };
  const decode = (raw: string, at: number): string =>
    raw.replace(/&([^;&\s]*);?/g, (m, ref: string) => {
      if (!m.endsWith(';')) fail(`"&" starts no entity`, at);
      if (ENTITIES[ref]) return ENTITIES[ref];
      const code = /^#x([0-9a-fA-F]+)$/.exec(ref)?.[1] ?? /^#(\d+)$/.exec(ref)?.[1];
      if (!code) return fail(`unknown entity &${ref};`, at);
      return String.fromCodePoint(ref.startsWith('#x') ? parseInt(code, 16) : Number(code));
    });
  const skipMisc = (): void => {
    for (;;) {
      while (/\s/.test(text[pos] ?? '')) pos++;
      if (text.startsWith('<!--', pos)) {
        const end = text.indexOf('-->', pos + 4);
        if (end < 0) fail('unterminated comment');
        pos = end + 3;
      } else if (text.startsWith('<?xml', pos) && pos < 2) {
        const end = text.indexOf('?>', pos);
        if (end < 0) fail('unterminated XML declaration');
        pos = end + 2;
      } else return;
    }
  };
  const name = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(text);
    if (!m) return fail('expected a name');
    pos += m[0].length;
    return m[0];
  };
  const element = (): XmlNode => {
    const line = where()[0];
    if (text[pos] !== '<') fail('expected "<"');
    pos++;
    const node: XmlNode = { name: name(), attrs: {}, children: [], text: '', line };
    const attrs = node.attrs as Record<string, string>;
    for (;;) {
      const spaced = /\s/.test(text[pos] ?? '');
      while (/\s/.test(text[pos] ?? '')) pos++;
      if (text.startsWith('/>', pos)) {
        pos += 2;
        return node;
      }
      if (text[pos] === '>') {
        pos++;
        break;
      }
      if (!spaced) fail('expected whitespace, ">" or "/>"');
      const at = pos;
      const key = name();
      if (Object.hasOwn(attrs, key)) fail(`attribute ${key} given twice`, at);
      if (text[pos] !== '=') fail(`expected "=" after ${key}`);
      const quote = text[++pos];
      if (quote !== "'" && quote !== '"') fail('expected a quoted value');
      const end = text.indexOf(quote, pos + 1);
      if (end < 0) fail('unterminated attribute value');
      const raw = text.slice(pos + 1, end);
      if (raw.includes('<')) fail('"<" in an attribute value', pos + 1 + raw.indexOf('<'));
      attrs[key] = decode(raw, pos + 1);
      pos = end + 1;
    }
    let own = '';
    for (;;) {
      if (pos >= text.length) fail(`<${node.name}> is never closed`);
      if (text.startsWith('</', pos)) {
        pos += 2;
        const close = name();
        if (close !== node.name) fail(`</${close}> closes <${node.name}> (line ${line})`);
        while (/\s/.test(text[pos] ?? '')) pos++;
        if (text[pos++] !== '>') fail('expected ">"');
        node.text = own.trim();
        return node;
      }
      if (text.startsWith('<!--', pos)) {
        const end = text.indexOf('-->', pos + 4);
        if (end < 0) fail('unterminated comment');
        pos = end + 3;
      } else if (text.startsWith('<![CDATA[', pos)) {
        const end = text.indexOf(']]>', pos);
        if (end < 0) fail('unterminated CDATA section');
        own += text.slice(pos + 9, end);
        pos = end + 3;
      } else if (text.startsWith('<!', pos) || text.startsWith('<?', pos)) fail('DTDs and processing instructions are not read');
      else if (text[pos] === '<') node.children.push(element());
      else {
        const next = text.indexOf('<', pos);
        const end = next < 0 ? text.length : next;
        own += decode(text.slice(pos, end), pos);
        pos = end;
      }
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (pos < text.length) fail('text after the root element');
  return root;
}

/** The first child element named `name`. */
export const child = (n: XmlNode | undefined, name: string): XmlNode | undefined => n?.children.find((c) => c.name === name);
export const childrenNamed = (n: XmlNode | undefined, name: string): XmlNode[] => n?.children.filter((c) => c.name === name) ?? [];
