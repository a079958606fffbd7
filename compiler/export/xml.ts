/** A minimal XML writer for exports: elements, attributes in the order given, two-space indent. */

export type Attrs = Readonly<Record<string, string | number | undefined>>;

export interface XmlElement {
  readonly name: string;
  readonly attrs: Attrs;
  readonly children: readonly (XmlElement | string)[];
}

export const el = (name: string, attrs: Attrs = {}, ...children: (XmlElement | string | undefined | false)[]): XmlElement => ({
  name,
  attrs,
  children: children.filter((c): c is XmlElement | string => c !== undefined && c !== false),
});

export const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function attrText(attrs: Attrs): string {
  return Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}='${escapeXml(String(v))}'`)
    .join('');
}

export function renderXml(e: XmlElement, indent = ''): string {
  const open = `${indent}<${e.name}${attrText(e.attrs)}`;
  if (!e.children.length) return `${open}/>\n`;
  if (e.children.every((c) => typeof c === 'string')) return `${open}>${e.children.map((c) => escapeXml(c as string)).join('')}</${e.name}>\n`;
  const inner = e.children.map((c) => (typeof c === 'string' ? `${indent}  ${escapeXml(c)}\n` : renderXml(c, indent + '  '))).join('');
  return `${open}>\n${inner}${indent}</${e.name}>\n`;
}
