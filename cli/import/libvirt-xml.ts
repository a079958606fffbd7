/**
 * libvirt domain XML (what `virsh dumpxml` writes) read into a tree, through saxes: a
 * conformant XML 1.0 parser with namespaces that reads in one linear pass without recursion and
 * knows the line and column of every error. Chosen over a hand-written reader (quadratic line
 * counting, a recursive descent that overflowed on deep nesting) and over DOM parsers (no
 * positions, or a native build): saxes has no dependency but xmlchars, and no DTD support at all,
 * so no entity can expand. A DOCTYPE, a processing instruction, an unknown entity or a nesting
 * deeper than MAX_DEPTH is an error with line and column, never a guess.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';

export interface XmlNode {
  /** The qualified name as written (`qemu:commandline`). */
  readonly name: string;
  /** The namespace URI (`http://libvirt.org/schemas/domain/qemu/1.0`), '' when none. */
  readonly uri: string;
  /** The name without its prefix (`commandline`). */
  readonly local: string;
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

/** Deeper than any domain libvirt writes (a handful of levels), shallow enough for recursive readers. */
export const MAX_DEPTH = 64;

/** Attributes by qualified name; namespace declarations are not attributes of the domain. */
function attributesOf(tag: SaxesTagNS): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, a] of Object.entries(tag.attributes)) if (a.prefix !== 'xmlns' && name !== 'xmlns') out[name] = a.value;
  return out;
}

/** A whole document: its one root element, with only whitespace, comments and the declaration around it. */
export function parseXml(text: string): XmlNode {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: { node: XmlNode; own: string }[] = [];
  let root: XmlNode | undefined;
  const fail = (message: string): never => {
    throw new XmlError(message, parser.line, parser.column);
  };
  parser.on('error', (e) => fail(e.message.replace(/^(?:[^:]*:)?\d+:\d+: /, '').replace(/\.$/, '')));
  parser.on('doctype', () => fail('a DOCTYPE is not read (libvirt writes none)'));
  parser.on('processinginstruction', () => fail('processing instructions are not read'));
  parser.on('opentag', (tag) => {
    if (stack.length >= MAX_DEPTH) fail(`elements nest deeper than ${MAX_DEPTH} levels`);
    const node: XmlNode = { name: tag.name, uri: tag.uri ?? '', local: tag.local ?? tag.name, attrs: attributesOf(tag), children: [], text: '', line: parser.line };
    if (stack.length) stack[stack.length - 1].node.children.push(node);
    else root = node;
    stack.push({ node, own: '' });
  });
  const addText = (t: string): void => {
    if (stack.length) stack[stack.length - 1].own += t;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    const top = stack.pop();
    if (top) top.node.text = top.own.trim();
  });
  parser.write(text).close();
  return root ?? fail('no root element');
}

/** An element as messages name it: `<disk> (line 12)`. */
export const at = (n: XmlNode): string => `<${n.name}> (line ${n.line})`;

/** The first child element named `name`. */
export const child = (n: XmlNode | undefined, name: string): XmlNode | undefined => n?.children.find((c) => c.name === name);
export const childrenNamed = (n: XmlNode | undefined, name: string): XmlNode[] => n?.children.filter((c) => c.name === name) ?? [];
