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

/** A reader's place in the text, and the parts of XML it reads from there. */
class XmlReader {
  pos = 0;
  constructor(readonly text: string) {}

  /** 1-based line and column of an offset. */
  where(at = this.pos): [number, number] {
    const before = this.text.slice(0, at);
    const line = before.split('\n').length;
    return [line, at - before.lastIndexOf('\n')];
  }

  /** Throws an XmlError at an offset. */
  fail(message: string, at = this.pos): never {
    throw new XmlError(message, ...this.where(at));
  }

  /** Text or an attribute value with its entities and character references replaced. */
  decode(raw: string, at: number): string {
    return raw.replace(/&([^;&\s]*);?/g, (m, ref: string) => {
      if (!m.endsWith(';')) this.fail(`"&" starts no entity`, at);
      if (ENTITIES[ref]) return ENTITIES[ref];
      const code = /^#x([0-9a-fA-F]+)$/.exec(ref)?.[1] ?? /^#(\d+)$/.exec(ref)?.[1];
      if (!code) return this.fail(`unknown entity &${ref};`, at);
      return String.fromCodePoint(ref.startsWith('#x') ? parseInt(code, 16) : Number(code));
    });
  }

  /** Skips the comment that starts here. */
  comment(): void {
    const end = this.text.indexOf('-->', this.pos + 4);
    if (end < 0) this.fail('unterminated comment');
    this.pos = end + 3;
  }

  /** Skips whitespace, comments and (at the very start) the XML declaration. */
  skipMisc(): void {
    const { text } = this;
    for (;;) {
      while (/\s/.test(text[this.pos] ?? '')) this.pos++;
      if (text.startsWith('<!--', this.pos)) this.comment();
      else if (text.startsWith('<?xml', this.pos) && this.pos < 2) {
        const end = text.indexOf('?>', this.pos);
        if (end < 0) this.fail('unterminated XML declaration');
        this.pos = end + 2;
      } else return;
    }
  }

  /** An element or attribute name. */
  name(): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.text);
    if (!m) return this.fail('expected a name');
    this.pos += m[0].length;
    return m[0];
  }

  /** One `key="value"` (or single-quoted) attribute into `attrs`. */
  attribute(attrs: Record<string, string>): void {
    const { text } = this;
    const at = this.pos;
    const key = this.name();
    if (Object.hasOwn(attrs, key)) this.fail(`attribute ${key} given twice`, at);
    if (text[this.pos] !== '=') this.fail(`expected "=" after ${key}`);
    const quote = text[++this.pos];
    if (quote !== "'" && quote !== '"') this.fail('expected a quoted value');
    const end = text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail('unterminated attribute value');
    const raw = text.slice(this.pos + 1, end);
    if (raw.includes('<')) this.fail('"<" in an attribute value', this.pos + 1 + raw.indexOf('<'));
    attrs[key] = this.decode(raw, this.pos + 1);
    this.pos = end + 1;
  }

  /** A start tag's attributes, up to ">" (true: content follows) or "/>" (false: the element is empty). */
  attributes(node: XmlNode): boolean {
    const { text } = this;
    for (;;) {
      const spaced = /\s/.test(text[this.pos] ?? '');
      while (/\s/.test(text[this.pos] ?? '')) this.pos++;
      if (text.startsWith('/>', this.pos)) {
        this.pos += 2;
        return false;
      }
      if (text[this.pos] === '>') {
        this.pos++;
        return true;
      }
      if (!spaced) this.fail('expected whitespace, ">" or "/>"');
      this.attribute(node.attrs as Record<string, string>);
    }
  }

  /** An element's content up to its end tag: text, CDATA, comments and child elements. */
  content(node: XmlNode): void {
    const { text } = this;
    let own = '';
    for (;;) {
      if (this.pos >= text.length) this.fail(`<${node.name}> is never closed`);
      if (text.startsWith('</', this.pos)) {
        this.pos += 2;
        const close = this.name();
        if (close !== node.name) this.fail(`</${close}> closes <${node.name}> (line ${node.line})`);
        while (/\s/.test(text[this.pos] ?? '')) this.pos++;
        if (text[this.pos++] !== '>') this.fail('expected ">"');
        node.text = own.trim();
        return;
      }
      if (text.startsWith('<!--', this.pos)) this.comment();
      else if (text.startsWith('<![CDATA[', this.pos)) {
        const end = text.indexOf(']]>', this.pos);
        if (end < 0) this.fail('unterminated CDATA section');
        own += text.slice(this.pos + 9, end);
        this.pos = end + 3;
      } else if (text.startsWith('<!', this.pos) || text.startsWith('<?', this.pos)) this.fail('DTDs and processing instructions are not read');
      else if (text[this.pos] === '<') node.children.push(this.element());
      else {
        const next = text.indexOf('<', this.pos);
        const end = next < 0 ? text.length : next;
        own += this.decode(text.slice(this.pos, end), this.pos);
        this.pos = end;
      }
    }
  }

  /** An element: its start tag, then its content and end tag unless it is empty (`<x/>`). */
  element(): XmlNode {
    const line = this.where()[0];
    if (this.text[this.pos] !== '<') this.fail('expected "<"');
    this.pos++;
    const node: XmlNode = { name: this.name(), attrs: {}, children: [], text: '', line };
    if (this.attributes(node)) this.content(node);
    return node;
  }
}

/** A whole document: its one root element, with only whitespace, comments and the declaration around it. */
export function parseXml(text: string): XmlNode {
  const reader = new XmlReader(text);
  reader.skipMisc();
  const root = reader.element();
  reader.skipMisc();
  if (reader.pos < text.length) reader.fail('text after the root element');
  return root;
}

/** An element as messages name it: `<disk> (line 12)`. */
export const at = (n: XmlNode): string => `<${n.name}> (line ${n.line})`;

/** The first child element named `name`. */
export const child = (n: XmlNode | undefined, name: string): XmlNode | undefined => n?.children.find((c) => c.name === name);
export const childrenNamed = (n: XmlNode | undefined, name: string): XmlNode[] => n?.children.filter((c) => c.name === name) ?? [];
