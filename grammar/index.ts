/**
 * The grammar's public entry: the AST, parsing (whole file and incremental), the scanner the editor tools use,
 * and the one Diagnostic type every layer reports with. Everything else in grammar/ is internal.
 */
export type {
  AddressNode, BlockValue, BooleanValue, Comment, DeviceNode, Identifier, IntegerValue, ListValue, MachineFile,
  MachineNode, Node, Property, SizeValue, StringValue, Value,
} from './ast.js';
export { walkDevices } from './ast.js';
export { DEVICE_ID, DEVICE_ID_RULE, isDeviceId } from './ids.js';
export { hasErrors, type Diagnostic, type RelatedLocation, type Severity, type Span } from './diagnostic.js';
export { lineStarts, locate, type LineColumn } from './location.js';
export { parse, type ParseResult } from './parse.js';
export { reparse, type Parsed } from './reparse.js';
export { scan, type Scan, type Token } from './scan.js';
export { printCommentText, printString, readString, type ReadString, type StringProblem } from './string-literal.js';
