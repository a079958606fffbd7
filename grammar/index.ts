export * from './ast.js';
export * from './diagnostic.js';
export { lineStarts, locate, type LineColumn } from './location.js';
export { parse, type ParseResult } from './parse.js';
export { reparse, type Parsed } from './reparse.js';
export { scan, type Scan, type Token } from './scan.js';
export { tables as parserTables } from './parser.js';
export type { ParserTables } from './tables.js';
