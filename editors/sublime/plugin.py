"""LSP-observatory: Observatory's language server (`observatory lsp`) in Sublime Text.

A thin client of sublimelsp's LSP package. The server computes everything (code lenses,
hover, inlay hints, code actions, the Markdown documents it asks the editor to show);
this package finds the binary, sends the settings, and adds what LSP cannot do alone:
copying a prompt, resuming a conversation in a terminal, searching conversations in a
quick panel, and the connection in the status bar.

The functions above the `sublime`-facing classes are plain Python, tested without
Sublime Text (tests/).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import sys
import urllib.parse
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import sublime
import sublime_plugin
from LSP.plugin import AbstractPlugin
from LSP.plugin import LspTextCommand
from LSP.plugin import LspWindowCommand
from LSP.plugin import Notification
from LSP.plugin import Request
from LSP.plugin import register_plugin
from LSP.plugin import unregister_plugin
from LSP.plugin import uri_from_view

PACKAGE = (__spec__.parent if __spec__ is not None else "") or "LSP-observatory"
SESSION_NAME = "LSP-observatory"
SETTINGS_FILE = "LSP-observatory.sublime-settings"
BINARY_NAME = "observatory.exe" if sys.platform == "win32" else "observatory"
STATUS_KEY = "observatory"

OPEN_CONVERSATION = "observatory.openConversation"
LIST_CONVERSATIONS = "observatory.listConversations"
COPY_PROMPT = "observatory.copyPrompt"
SHOW_DIFF = "observatory.showDiff"
RESUME_CONVERSATION = "observatory.resumeConversation"
SEARCH = "observatory.search"

MISSING_BINARY = (
    "Observatory: the `observatory` binary was not found (looked at the \"binary\" "
    "setting, $OBSERVATORY_PATH, $PATH and ~/.cargo/bin).\n\n"
    "Fix: build it (`cargo install --path server/cli` in the Observatory repository), "
    "then set \"binary\" to its full path in Preferences: LSP-observatory Settings."
)


# --- Plain logic (no Sublime API) ----------------------------------------------------


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_binary(
    setting: Optional[str],
    environ: Mapping[str, str],
    which: Callable[[str], Optional[str]] = shutil.which,
    home: Optional[str] = None,
) -> Tuple[Optional[str], Optional[str]]:
    """The server binary: the "binary" setting, else $OBSERVATORY_PATH, else `observatory`
    on PATH, else ~/.cargo/bin (GUI apps on macOS do not see a shell's PATH).

    Returns (path, None), or (None, a message saying what is wrong and how to fix it).
    A setting or variable naming something that is not an executable file is an error:
    falling back silently would run a binary the user did not choose.
    """
    for source, value in (
        ('the "binary" setting', setting),
        ("OBSERVATORY_PATH", environ.get("OBSERVATORY_PATH")),
    ):
        if value:
            path = os.path.expanduser(os.path.expandvars(value))
            if _executable(path):
                return path, None
            return None, (
                "Observatory: {} is {!r}, which is not an executable file.\n\n"
                "Fix: point it at the `observatory` binary (`which observatory` in a "
                "terminal), or clear it to look on PATH.".format(source, value)
            )
    found = which(BINARY_NAME)
    if found:
        return found, None
    cargo = os.path.join(home or os.path.expanduser("~"), ".cargo", "bin", BINARY_NAME)
    if _executable(cargo):
        return cargo, None
    return None, MISSING_BINARY


def initialization_options(given: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The settings' "initializationOptions" as the server reads them (docs/lsp.md,
    Settings): unset values (null, "") left out so the server's defaults and
    OBSERVATORY_URL / OBSERVATORY_API_KEY apply, and `shim: true` because this package
    copies prompts and runs `claude --resume` itself."""
    out = {k: v for k, v in (given or {}).items() if v is not None and v != ""}
    out["shim"] = True
    return out


def data_dir(env_setting: Optional[Mapping[str, str]], environ: Mapping[str, str]) -> str:
    """The server's data directory, as it resolves it: OBSERVATORY_DATA_DIR (from the
    settings' "env", else Sublime's environment), else $XDG_DATA_HOME/observatory, else
    ~/.local/share/observatory."""
    given = (env_setting or {}).get("OBSERVATORY_DATA_DIR") or environ.get("OBSERVATORY_DATA_DIR")
    if given:
        return os.path.expanduser(os.path.expandvars(given))
    xdg = environ.get("XDG_DATA_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "observatory")
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".local", "share", "observatory")


def is_observatory_document(file_name: Optional[str], data: str) -> bool:
    """A conversation, list, diff or search page the server wrote (`<data dir>/editor/`):
    no language server of ours for it."""
    if not file_name:
        return False
    editor = os.path.join(os.path.realpath(data), "editor")
    path = os.path.realpath(file_name)
    try:
        return os.path.commonpath([editor, path]) == editor
    except ValueError:  # another drive (Windows)
        return False


def status_text(status: Mapping[str, Any]) -> str:
    """The short form, shown in parentheses after LSP-observatory in the status bar."""
    state = status.get("state")
    if state == "connected":
        return "indexing…" if status.get("indexing") else "connected"
    if state == "connecting":
        return "connecting…"
    if state == "offline":
        return "offline"
    if state == "refused":
        reason = {
            "apiKeyRequired": "API key required",
            "unauthorized": "API key refused",
            "forbidden": "API key lacks a scope",
            "rateLimited": "rate limited",
        }.get(str(status.get("reason")), "")
        return "refused: " + reason if reason else "refused"
    return str(state or "")


def status_message(status: Mapping[str, Any]) -> str:
    """The long form, for Observatory: Show Connection Status."""
    lines = ["Observatory: " + status_text(status)]
    if status.get("url"):
        source = {
            "configured": "the url setting",
            "shared": "the platform already running on this machine",
            "started": "started by the language server",
            "inProcess": "inside the language server",
        }.get(str(status.get("source")), "")
        lines.append("Platform: {}{}".format(status["url"], " ({})".format(source) if source else ""))
    if status.get("message"):
        lines.append(str(status["message"]))
    if status.get("reason") == "apiKeyRequired":
        lines.append(
            'Fix: set "apiKey" under "initializationOptions" in Preferences: '
            "LSP-observatory Settings (`observatory keys create` on the platform's machine)."
        )
    return "\n\n".join(lines)


def run_at(blame: Optional[Mapping[str, Any]], line: int) -> Optional[Dict[str, Any]]:
    """The attributed run of `observatory/blame` covering 0-based `line`."""
    for run in (blame or {}).get("runs") or []:
        if run.get("start_line", 0) <= line + 1 <= run.get("end_line", -1):
            return dict(run)
    return None


def snippet_html(snippet: str) -> str:
    """A search hit's snippet (`<mark>` around matches) as Sublime's minihtml: the text
    escaped, the matches bold."""
    out = []
    rest = snippet
    while True:
        start = rest.find("<mark>")
        end = rest.find("</mark>", start + 6) if start >= 0 else -1
        if start < 0 or end < 0:
            out.append(html.escape(rest, quote=False))
            break
        out.append(html.escape(rest[:start], quote=False))
        out.append("<b>" + html.escape(rest[start + 6:end], quote=False) + "</b>")
        rest = rest[end + 7:]
    return " ".join("".join(out).split())


def _one_line(text: Optional[str], width: int = 90) -> str:
    words = " ".join((text or "").split())
    return words if len(words) <= width else words[: width - 1].rstrip() + "…"


def search_items(page: Optional[Mapping[str, Any]]) -> List[Tuple[str, str, str]]:
    """`observatory/search` hits as quick panel rows: (conversation title, snippet as
    minihtml, "who · day")."""
    rows = []
    for hit in (page or {}).get("hits") or []:
        who = hit.get("kind") or hit.get("role") or ""
        if hit.get("tool"):
            who = "{} {}".format(who, hit["tool"]).strip()
        day = (hit.get("at") or "")[:10]
        annotation = " · ".join(x for x in (who, day) if x)
        rows.append(
            (_one_line(hit.get("conversation_title")) or hit.get("session_id", ""), snippet_html(hit.get("snippet") or ""), annotation)
        )
    return rows


def conversation_items(page: Optional[Mapping[str, Any]]) -> List[Tuple[str, str, str]]:
    """`observatory/conversations` items as quick panel rows."""
    rows = []
    for c in (page or {}).get("items") or []:
        day = (c.get("ended_at") or c.get("started_at") or "")[:10]
        details = "{} messages".format(c.get("message_count", 0))
        rows.append((_one_line(c.get("title")) or c.get("session_id", ""), details, day))
    return rows


def open_command(hit: Mapping[str, Any]) -> Dict[str, Any]:
    """The server command that opens a search hit's conversation at its message."""
    args = [hit["session_id"]]
    if hit.get("message_uuid"):
        args.append(hit["message_uuid"])
    return {"command": OPEN_CONVERSATION, "arguments": args}


def shown_fallback(result: Any) -> Optional[str]:
    """For a `Shown` result ({uri, path, line, shown}) the editor did not show (a
    window/showDocument that failed or was not sent), the `path:line` to open with
    sublime.ENCODED_POSITION; None when the server's window/showDocument opened it."""
    if not isinstance(result, dict) or result.get("shown") or not result.get("path"):
        return None
    return "{}:{}".format(result["path"], int(result.get("line") or 0) + 1)


def parse_command_uri(uri: str) -> Optional[Tuple[str, List[Any]]]:
    """A hover link `command:observatory.openConversation?<percent-encoded JSON
    arguments>` as (command, arguments); None for any other URI: that is the one
    link the server writes, so another came from a transcript's own text."""
    name, _, query = uri[len("command:"):].partition("?")
    if not uri.startswith("command:") or name != "observatory.openConversation":
        return None
    if not query:
        return name, []
    try:
        args = json.loads(urllib.parse.unquote(query))
    except ValueError:
        return None
    return name, args if isinstance(args, list) else [args]


def _inside(path: str, folder: str) -> bool:
    folder = os.path.abspath(folder)
    try:
        return os.path.commonpath([folder, os.path.abspath(path)]) == folder
    except ValueError:  # another drive (Windows)
        return False


def resume_cwd(
    file_name: Optional[str], folders: List[str], recorded: Optional[str], home: Optional[str] = None
) -> str:
    """Where to run `claude --resume`: the window folder holding the file (this checkout,
    not the directory the transcript recorded, which may be another machine's), else the
    window's first folder, else the recorded directory when it exists here, else home."""
    if file_name:
        holding = [f for f in folders if _inside(file_name, f)]
        if holding:
            return max(holding, key=len)
    if folders:
        return folders[0]
    if recorded and os.path.isdir(recorded):
        return recorded
    return home or os.path.expanduser("~")


def resume_invocation(result: Mapping[str, Any], cwd: str, terminus: bool) -> Tuple[str, Dict[str, Any]]:
    """The window command that runs the server's `Resume` result ({command, args,
    commandLine}): a Terminus tab when Terminus is installed, else an exec panel."""
    cmd = [result.get("command") or "claude"] + list(result.get("args") or [])
    if terminus:
        return "terminus_open", {
            "cmd": cmd,
            "cwd": cwd,
            "title": result.get("commandLine") or " ".join(cmd),
            "auto_close": False,
        }
    return "exec", {"cmd": cmd, "working_dir": cwd}


# --- Sublime Text ---------------------------------------------------------------------


def _settings() -> sublime.Settings:
    return sublime.load_settings(SETTINGS_FILE)


def _terminus_installed() -> bool:
    ignored = sublime.load_settings("Preferences.sublime-settings").get("ignored_packages") or []
    return "Terminus" not in ignored and bool(sublime.find_resources("Terminus.sublime-settings"))


def _report_error(error: Any) -> None:
    message = error.get("message") if isinstance(error, dict) else str(error)
    sublime.status_message("Observatory: {}".format(message))


def open_shown(window: Optional[sublime.Window], result: Any) -> None:
    """After a command whose result is `Shown`: open the document when the server's
    window/showDocument did not (LSP opens it when it did)."""
    target = shown_fallback(result)
    if window is not None and target:
        window.open_file(target, sublime.ENCODED_POSITION)


def copy_prompt(window: Optional[sublime.Window], result: Any) -> None:
    prompt = result.get("prompt") if isinstance(result, dict) else None
    if not prompt:
        sublime.status_message("Observatory: no prompt is known for that change")
        return
    sublime.set_clipboard(prompt)
    sublime.status_message("Observatory: prompt copied ({} characters)".format(len(prompt)))


def resume(window: Optional[sublime.Window], result: Any, recorded: Optional[str] = None) -> None:
    if window is None or not isinstance(result, dict):
        return
    view = window.active_view()
    cwd = resume_cwd(view.file_name() if view else None, window.folders(), recorded or result.get("cwd"))
    command, args = resume_invocation(result, cwd, _terminus_installed())
    window.run_command(command, args)


class Observatory(AbstractPlugin):
    """The LSP-observatory session: binary, settings, status, and the server commands
    the client carries out itself."""

    last_status: Dict[str, Any] = {}
    told: Optional[str] = None  # the binary problem last shown in a dialog

    @classmethod
    def name(cls) -> str:
        return SESSION_NAME

    @classmethod
    def configuration(cls) -> Tuple[sublime.Settings, str]:
        return _settings(), "Packages/{}/{}".format(PACKAGE, SETTINGS_FILE)

    @classmethod
    def binary(cls) -> Tuple[Optional[str], Optional[str]]:
        return find_binary(_settings().get("binary"), os.environ)

    @classmethod
    def additional_variables(cls) -> Optional[Dict[str, str]]:
        path, _ = cls.binary()
        return {"observatory_binary": path or BINARY_NAME}

    @classmethod
    def can_start(cls, window, initiating_view, workspace_folders, configuration) -> Optional[str]:
        """LSP shows the returned reason as a passing status message: the whole message,
        with the fix, goes to a dialog as well (once per Sublime session and problem)."""
        _, error = cls.binary()
        if not error:
            return None
        if error != Observatory.told:
            Observatory.told = error
            sublime.set_timeout(lambda: sublime.error_message(error))
        return error.split("\n", 1)[0]

    @classmethod
    def on_pre_start(cls, window, initiating_view, workspace_folders, configuration) -> Optional[str]:
        configuration.init_options.assign(initialization_options(configuration.init_options.get()))
        return None

    @classmethod
    def should_ignore(cls, view: sublime.View) -> bool:
        return is_observatory_document(view.file_name(), data_dir(_settings().get("env"), os.environ))

    # Notifications (`m_` + the method with `/` as `_`).

    def m_observatory_status(self, params: Dict[str, Any]) -> None:
        Observatory.last_status = dict(params or {})
        session = self.weaksession()
        if session:
            session.set_config_status_async(status_text(Observatory.last_status))

    def m_observatory_didChangeInsights(self, params: Dict[str, Any]) -> None:
        # LSP refreshes lenses and hints on workspace/codeLens/refresh and
        # workspace/inlayHint/refresh, which the server sends too.
        pass

    # Commands the client carries out: the server answers, this package acts.

    def on_pre_server_command(self, command: Dict[str, Any], done_callback: Callable[[], None]) -> bool:
        name = command.get("command")
        if name not in (COPY_PROMPT, RESUME_CONVERSATION):
            return False
        session = self.weaksession()
        if not session:
            return False
        args = command.get("arguments") or []
        window = session.window

        def on_result(result: Any) -> None:
            try:
                if name == COPY_PROMPT:
                    copy_prompt(window, result)
                else:
                    recorded = args[1] if len(args) > 1 and isinstance(args[1], str) else None
                    sublime.set_timeout(lambda: resume(window, result, recorded))
            finally:
                done_callback()

        def on_error(error: Any) -> None:
            _report_error(error)
            done_callback()

        session.send_request(Request("workspace/executeCommand", command), on_result, on_error)
        return True

    def on_open_uri_async(self, uri: str, callback: Callable[[str, str, str], None]) -> bool:
        """Hover links (`command:observatory.…`): run the command. The callback, which
        would open a scratch view, is not called: the server shows its own document."""
        parsed = parse_command_uri(uri)
        session = self.weaksession()
        if parsed is None or not session:
            return False
        name, args = parsed
        window = session.window
        session.execute_command({"command": name, "arguments": args}, progress=False).then(
            lambda result: open_shown(window, result)
        )
        return True


def _word_under_cursor(view: Optional[sublime.View]) -> str:
    if view is None or not len(view.sel()):
        return ""
    region = view.sel()[0]
    if region.empty():
        region = view.word(region.b)
    text = view.substr(region).strip()
    return text if 0 < len(text) <= 80 and "\n" not in text else ""


class QueryInputHandler(sublime_plugin.TextInputHandler):
    def __init__(self, initial: str) -> None:
        self._initial = initial

    def name(self) -> str:
        return "query"

    def placeholder(self) -> str:
        return 'words, "a phrase", prefix*, -excluded, a OR b'

    def initial_text(self) -> str:
        return self._initial

    def validate(self, text: str) -> bool:
        return bool(text.strip())


class ObservatorySearchCommand(LspWindowCommand):
    """Observatory: Search Conversations — observatory/search in a quick panel; the
    chosen hit opens its conversation at the message."""

    session_name = SESSION_NAME

    def input(self, args: Dict[str, Any]):
        if not args.get("query"):
            return QueryInputHandler(_word_under_cursor(self.window.active_view()))
        return None

    def input_description(self) -> str:
        return "Search conversations"

    def run(self, query: str = "", all_projects: bool = False) -> None:
        session = self.session()
        if not session or not query.strip():
            return
        folders = self.window.folders()
        params: Dict[str, Any] = {"query": query, "limit": 50}
        if folders and not all_projects:
            params["project"] = folders[0]

        def on_result(page: Any, scoped: bool = "project" in params) -> None:
            if scoped and not (page or {}).get("hits"):
                # Nothing recorded in this folder (or recorded under another path):
                # every project, as the server's own search command does.
                everywhere = {k: v for k, v in params.items() if k != "project"}
                session.send_request(Request("observatory/search", everywhere), lambda p: on_result(p, False), _report_error)
                return
            sublime.set_timeout(lambda: self._show(session, query, page))

        session.send_request(Request("observatory/search", params), on_result, _report_error)

    def _show(self, session, query: str, page: Any) -> None:
        hits = (page or {}).get("hits") or []
        if not hits:
            sublime.status_message("Observatory: no conversation mentions {}".format(query))
            return
        items = [
            sublime.QuickPanelItem(trigger, details=details, annotation=annotation)
            for trigger, details, annotation in search_items(page)
        ]

        def on_select(index: int) -> None:
            if index < 0:
                return
            window = self.window
            session.execute_command(open_command(hits[index]), progress=False).then(
                lambda result: open_shown(window, result)
            )

        self.window.show_quick_panel(items, on_select, placeholder="Conversations about {}".format(query))


def _blame_then(command: LspTextCommand, then: Callable[[Any, Optional[Dict[str, Any]]], None]) -> None:
    """observatory/blame for the command's view, then `then(session, run at the cursor)`."""
    view = command.view
    session = command.session_by_name(SESSION_NAME)
    if not session or not len(view.sel()):
        sublime.status_message("Observatory: no language server for this file")
        return
    line = view.rowcol(view.sel()[0].b)[0]

    def on_result(blame: Any) -> None:
        then(session, run_at(blame, line))

    session.send_request(Request("observatory/blame", {"uri": uri_from_view(view)}, view), on_result, _report_error)


def _attributed_then(command: LspTextCommand, then: Callable[[Any, Dict[str, Any]], None]) -> None:
    """`_blame_then` for commands that need the line to be an agent's: says so when not."""

    def checked(session, run: Optional[Dict[str, Any]]) -> None:
        if not run:
            sublime.status_message("Observatory: no agent wrote this line")
            return
        then(session, run)

    _blame_then(command, checked)


class ObservatoryOpenConversationCommand(LspTextCommand):
    """The conversation that wrote the line at the cursor, at its message; else the
    list of the file's conversations."""

    session_name = SESSION_NAME

    def run(self, edit, session_id: str = "", message_uuid: str = "") -> None:
        window = self.view.window()
        if session_id:
            session = self.session_by_name(SESSION_NAME)
            if session:
                args = [session_id] + ([message_uuid] if message_uuid else [])
                session.execute_command({"command": OPEN_CONVERSATION, "arguments": args}, progress=False).then(
                    lambda result: open_shown(window, result)
                )
            return

        def then(session, run: Optional[Dict[str, Any]]) -> None:
            if run:
                command = {"command": OPEN_CONVERSATION, "arguments": [run["session_id"], run["message_uuid"]]}
            else:
                command = {"command": LIST_CONVERSATIONS, "arguments": [uri_from_view(self.view)]}
            session.execute_command(command, progress=False).then(lambda result: open_shown(window, result))

        _blame_then(self, then)


class ObservatoryConversationsCommand(LspTextCommand):
    """The conversations that wrote this file, in a quick panel."""

    session_name = SESSION_NAME

    def run(self, edit) -> None:
        session = self.session_by_name(SESSION_NAME)
        window = self.view.window()
        if not session or window is None:
            return

        def on_result(page: Any) -> None:
            items = (page or {}).get("items") or []
            if not items:
                sublime.set_timeout(lambda: sublime.status_message("Observatory: no conversation wrote this file"))
                return
            rows = [sublime.QuickPanelItem(t, details=d, annotation=a) for t, d, a in conversation_items(page)]

            def on_select(index: int) -> None:
                if index >= 0:
                    command = {"command": OPEN_CONVERSATION, "arguments": [items[index]["session_id"]]}
                    session.execute_command(command, progress=False).then(lambda result: open_shown(window, result))

            sublime.set_timeout(lambda: window.show_quick_panel(rows, on_select, placeholder="Conversations that wrote this file"))

        params = {"textDocument": {"uri": uri_from_view(self.view)}, "limit": 100}
        session.send_request(Request("observatory/conversations", params, self.view), on_result, _report_error)


class ObservatoryCopyPromptCommand(LspTextCommand):
    """The prompt behind the line at the cursor, to the clipboard."""

    session_name = SESSION_NAME

    def run(self, edit) -> None:
        window = self.view.window()

        def then(session, run: Dict[str, Any]) -> None:
            copy_prompt(window, {"prompt": run.get("prompt") or run.get("conversation_title")})

        _attributed_then(self, then)


class ObservatoryResumeCommand(LspTextCommand):
    """`claude --resume <id>` for the conversation that wrote the line at the cursor, in
    this window's folder (Terminus when installed, else an exec panel)."""

    session_name = SESSION_NAME

    def run(self, edit) -> None:
        def then(session, run: Dict[str, Any]) -> None:
            session.execute_command(
                {"command": RESUME_CONVERSATION, "arguments": [run["session_id"], run.get("project")]},
                progress=False,
            )

        _attributed_then(self, then)


class ObservatoryShowDiffCommand(LspTextCommand):
    """The diff of the edit that wrote the line at the cursor."""

    session_name = SESSION_NAME

    def run(self, edit) -> None:
        window = self.view.window()

        def then(session, run: Dict[str, Any]) -> None:
            command = {"command": SHOW_DIFF, "arguments": [self.view.file_name() or "", run["tool_use_id"]]}
            session.execute_command(command, progress=False).then(lambda result: open_shown(window, result))

        _attributed_then(self, then)


class ObservatoryStatusCommand(LspWindowCommand):
    """The connection to the platform, in a dialog."""

    session_name = SESSION_NAME

    def run(self) -> None:
        session = self.session()
        if not session:
            return

        def on_result(status: Any) -> None:
            Observatory.last_status = dict(status or {})
            text = status_message(Observatory.last_status)
            sublime.set_timeout(lambda: sublime.message_dialog(text))

        session.send_request(Request("observatory/status", {}), on_result, _report_error)


class ObservatoryCursorListener(sublime_plugin.ViewEventListener):
    """observatory/didChangeCursor, debounced, for `"inlayHints": "currentLine"`: the
    hint follows the cursor."""

    _pending = 0

    def on_selection_modified_async(self) -> None:
        if _settings().get("initializationOptions", {}).get("inlayHints") != "currentLine":
            return
        ObservatoryCursorListener._pending += 1
        mark = ObservatoryCursorListener._pending
        sublime.set_timeout_async(lambda: self._send(mark), 150)

    def _send(self, mark: int) -> None:
        if mark == ObservatoryCursorListener._pending and self.view.is_valid() and self.view.file_name():
            self.view.run_command("observatory_did_change_cursor")


class ObservatoryDidChangeCursorCommand(LspTextCommand):
    """Sends the cursor's position (internal; see ObservatoryCursorListener)."""

    session_name = SESSION_NAME

    def is_visible(self) -> bool:
        return False

    def run(self, edit) -> None:
        session = self.session_by_name(SESSION_NAME)
        if not session or not len(self.view.sel()):
            return
        line, character = self.view.rowcol(self.view.sel()[0].b)
        params = {"textDocument": {"uri": uri_from_view(self.view)}, "position": {"line": line, "character": character}}
        session.send_notification(Notification("observatory/didChangeCursor", params))


def plugin_loaded() -> None:
    register_plugin(Observatory)


def plugin_unloaded() -> None:
    unregister_plugin(Observatory)
