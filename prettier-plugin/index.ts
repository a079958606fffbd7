/**
 * prettier 3 plugin for `.machine` files, exported as `machinec/prettier`:
 *
 *   // .prettierrc
 *   { "plugins": ["machinec/prettier"] }
 *
 * One language (`machine`), one parser (`machine`, producing `machine-ast`) and its printer.
 * The style has no options of its own; printWidth, tabWidth, useTabs and endOfLine apply.
 */
import type { Plugin, SupportLanguage } from 'prettier';
import type { PluginNode } from './nodes.js';
import { machineParser } from './parser.js';
import { machinePrinter } from './printer.js';

export const languages: SupportLanguage[] = [
  {
    name: 'machine',
    parsers: ['machine'],
    extensions: ['.machine'],
    vscodeLanguageIds: ['machine'],
  },
];

export const parsers: Plugin<PluginNode>['parsers'] = { machine: machineParser };

export const printers: Plugin<PluginNode>['printers'] = { 'machine-ast': machinePrinter };

export const options: Plugin['options'] = {};

const plugin: Plugin<PluginNode> = { languages, parsers, printers, options };
export default plugin;
