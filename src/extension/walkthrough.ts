// First run: the walkthrough opens once. VS Code's "open walkthroughs on install" setting turned
// off means never, and closing it is the user's answer.
import * as vscode from 'vscode';

/** globalState: the walkthrough was opened once. */
const WALKTHROUGH_SHOWN = 'walkthroughShown';

export function showWalkthroughOnce(context: vscode.ExtensionContext): void {
  const walkthroughs = vscode.workspace.getConfiguration('workbench.welcomePage').get('walkthroughs.openOnInstall', true);
  if (!walkthroughs || context.globalState.get(WALKTHROUGH_SHOWN)) return;
  void context.globalState.update(WALKTHROUGH_SHOWN, true);
  void vscode.commands.executeCommand('workbench.action.openWalkthrough', `${context.extension.id}#gettingStarted`, false);
}
