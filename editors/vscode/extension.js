// The machinec extension: starts `machinec lsp --stdio` for .machine files. Highlighting comes
// from syntaxes/machine.tmLanguage.json (a copy of editors/machine.tmLanguage.json).
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('machinec').get('path') || 'machinec';
  const server = { command, args: ['lsp'], transport: TransportKind.stdio };
  client = new LanguageClient('machinec', 'machinec', { run: server, debug: server }, {
    documentSelector: [{ scheme: 'file', language: 'machine' }],
    // A lock changed on disk (a build, a git checkout): the server reads it again.
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.machine.lock') },
  });
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
