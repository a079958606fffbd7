/**
 * The picture printers' escaping: every user string reaches an SVG, a dot graph or a mermaid
 * flowchart only through the function for that medium, hidden characters shown as `\u{…}` first.
 */
import { visibleText } from './escape-visible.js';

/** SVG and XML text and attribute values: markup characters and quotes as character references. */
export const xmlText = (s: string): string => visibleText(s).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A dot quoted string, quotes included: `"` and `\` backslash-escaped. */
export const dotString = (s: string): string => `"${visibleText(s).replace(/["\\]/g, (c) => `\\${c}`)}"`;

/**
 * Mermaid label text (inside `["…"]`): quotes, markup characters, backticks (which open mermaid's
 * markdown strings) and mermaid's own `#` as mermaid's entity codes (`#60;`).
 */
export const mermaidText = (s: string): string => visibleText(s).replace(/[#"<>&`]/g, (c) => `#${c.charCodeAt(0)};`);
