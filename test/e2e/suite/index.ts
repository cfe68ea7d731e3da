// The extension-host test runner (extensionTestsPath): VS Code loads this module inside the
// extension host and awaits run(). run-e2e.sh and electron.mjs bundle it with esbuild next to
// extension.suite.js; mocha stays external and resolves from the project's node_modules.
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec' });
  mocha.addFile(path.join(__dirname, 'extension.suite.js'));
  return new Promise((resolve, reject) => mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} tests failed`)) : resolve())));
}
