// `claude --resume <id>` in a new integrated terminal.
import * as vscode from "vscode";

/** Session ids are UUIDs; anything else is not put on a shell line. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Types the command into the user's shell rather than running `claude` directly: the
 * shell's own PATH (from its rc files) is the one that finds `claude`, and when it is
 * missing the shell says so in the terminal.
 */
export function resumeInTerminal(sessionId: string, cwd: string | undefined, name = "Claude Code"): boolean {
  if (!SESSION_ID.test(sessionId)) {
    void vscode.window.showErrorMessage(`Observatory: ${JSON.stringify(sessionId)} is not a conversation id.`);
    return false;
  }
  const terminal = vscode.window.createTerminal({ name, cwd });
  terminal.show();
  terminal.sendText(`claude --resume ${sessionId}`);
  return true;
}
