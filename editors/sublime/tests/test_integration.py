"""The package against the real `observatory lsp`: started with the command, environment
and initializationOptions the plugin gives sublimelsp, spoken to with sublimelsp's
client capabilities, on the ai-blame fixture (its Claude directory as ~/.claude of a
temporary HOME, a copy of its workspace). The plugin's own code runs against it through
a session double that sends its requests to the real server. Sublime Text is not run.

The server starts a platform (`observatory serve`) in the background; its pid is in the
data directory's serve.json (and daemon.pid): tearDownClass stops it."""

import json
import os
import shutil
import signal
import stat
import tempfile
import time
import unittest
import urllib.parse

from lsp_client import SUBLIME_LSP_CAPABILITIES, LspClient, LspError
from support import FakeSession, load_plugin, lsp_api, read_sublime_json, sublime

plugin = load_plugin()

FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), *[".."] * 4, "shared", "fixtures", "transcripts", "ai-blame", "tests", "examples"
)
SESSION = "2c965cfd-41e4-4e31-8339-2986ebced03c"
PROMPT = "create some files for test purposes. a small python file, a md file, a yaml, a json"
EDIT_PROMPT = "make some minor random test changes to all files in this repo"


def copy_tree(src, dst):
    shutil.copytree(src, dst)
    for root, dirs, files in os.walk(dst):  # the fixture is read-only
        for name in dirs + files:
            path = os.path.join(root, name)
            os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)


def alive(pid):
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return ") Z " not in f.read()
    except OSError:
        return False


class RealSession(FakeSession):
    """sublimelsp's Session as the plugin uses it, its requests answered by the server."""

    def __init__(self, window, client):
        super().__init__(window)
        self.client = client

    def answer(self, method, params):
        try:
            return self.client.request(method, params)
        except LspError as e:
            return ValueError(str(e))

    def send_notification(self, notification):
        super().send_notification(notification)
        self.client.notify(notification.method, notification.params)


class AgainstTheServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("OBSERVATORY_BIN") or os.path.expanduser("~/.cache/observatory-target/debug/observatory")
        if not os.path.isfile(binary):
            raise AssertionError("no observatory binary at {} (cargo build -p observatory-cli)".format(binary))
        if not os.path.isdir(FIXTURE):
            raise AssertionError("the ai-blame fixture is expected at {}".format(FIXTURE))
        cls.tmp = tempfile.mkdtemp(prefix="observatory-sublime-")
        cls.home = os.path.join(cls.tmp, "home")
        copy_tree(os.path.join(FIXTURE, "simple-home", ".claude"), os.path.join(cls.home, ".claude"))
        cls.workspace = os.path.join(cls.tmp, "work", "simple")
        copy_tree(os.path.join(FIXTURE, "simple"), cls.workspace)
        cls.data = os.path.join(cls.tmp, "data")

        # The plugin's view of the settings: the package's defaults, the binary named by
        # the "binary" setting, another data directory through "env".
        settings = read_sublime_json("LSP-observatory.sublime-settings")
        settings["binary"] = binary
        settings["env"] = {"OBSERVATORY_DATA_DIR": cls.data}
        sublime.reset()
        sublime.set_settings(plugin.SETTINGS_FILE, settings)
        assert plugin.Observatory.can_start(None, None, [], None) is None
        variables = plugin.Observatory.additional_variables()
        argv = [variables.get(arg[1:], arg) if arg.startswith("$") else arg for arg in settings["command"]]
        config = lsp_api.ClientConfig("LSP-observatory", argv, lsp_api.DottedDict(settings["initializationOptions"]))
        plugin.Observatory.on_pre_start(None, None, [], config)
        cls.argv = argv
        cls.init_options = config.init_options.get()

        env = {k: v for k, v in os.environ.items() if not k.startswith(("OBSERVATORY_", "CLAUDE_", "XDG_"))}
        env.update({"HOME": cls.home, "OBSERVATORY_LOG": "info"}, **settings["env"])
        cls.client = LspClient(argv, env, cwd=cls.workspace)
        root = "file://" + cls.workspace
        cls.init = cls.client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root,
                "workspaceFolders": [{"uri": root, "name": "simple"}],
                "initializationOptions": cls.init_options,
                "capabilities": SUBLIME_LSP_CAPABILITIES,
                "clientInfo": {"name": "Sublime Text LSP", "version": "2.0.0"},
            },
        )
        cls.client.notify("initialized", {})
        # sublimelsp sends the "settings" block once the server is up.
        cls.client.notify("workspace/didChangeConfiguration", {"settings": settings["settings"]})
        cls.file = os.path.join(cls.workspace, "example.py")
        cls.uri = "file://" + cls.file
        with open(cls.file, encoding="utf-8") as f:
            cls.text = f.read()
        cls.client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": cls.uri, "languageId": "python", "version": 1, "text": cls.text}},
        )

    @classmethod
    def tearDownClass(cls):
        client = getattr(cls, "client", None)
        if client is not None:
            client.stop()
        pids = set()
        for name in ("serve.json", "daemon.pid"):
            try:
                with open(os.path.join(cls.data, name)) as f:
                    text = f.read()
                pids.add(int(json.loads(text)["pid"]) if name.endswith(".json") else int(text.strip()))
            except (OSError, ValueError, KeyError):
                pass
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        left = [p for p in pids if alive(p)]
        assert not left, "platform processes still running: {}".format(left)

    def setUp(self):
        sublime.calls.clear()
        sublime.clipboard = ""
        lsp_api.sessions.clear()
        self.window = sublime.Window([self.workspace])
        self.view = sublime.View(self.file, self.text, self.window)
        self.window.view = self.view
        self.session = RealSession(self.window, self.client)
        lsp_api.sessions[plugin.SESSION_NAME] = self.session
        self.plugin = self.session.attach(plugin.Observatory)

    def lenses(self):
        return self.client.poll(
            "textDocument/codeLens", {"textDocument": {"uri": self.uri}}, lambda r: bool(r)
        )

    def hover(self, line):
        r = self.client.request(
            "textDocument/hover", {"textDocument": {"uri": self.uri}, "position": {"line": line, "character": 0}}
        )
        return (r or {}).get("contents", {}).get("value", "")

    def shown_documents(self, start):
        return [m["params"] for m in self.client.seen[start:] if m.get("method") == "window/showDocument"]

    def test_01_initialize_advertises_what_the_package_uses(self):
        self.assertEqual(self.argv, [os.environ.get("OBSERVATORY_BIN") or self.argv[0], "lsp"])
        self.assertTrue(self.init_options["shim"])
        caps = self.init["capabilities"]
        self.assertTrue(caps["hoverProvider"])
        self.assertIn("codeLensProvider", caps)
        ext = caps["experimental"]["observatory"]
        self.assertEqual(ext["protocolVersion"], 1)
        for method in ("observatory/search", "observatory/blame", "observatory/status", "observatory/conversations"):
            self.assertIn(method, ext["requests"])
        for command in (plugin.OPEN_CONVERSATION, plugin.COPY_PROMPT, plugin.RESUME_CONVERSATION, plugin.SEARCH):
            self.assertIn(command, caps["executeCommandProvider"]["commands"])

    def test_02_code_lenses(self):
        lenses = self.lenses()
        top = lenses[0]["command"]
        self.assertTrue(top["title"].startswith("1 agent conversation · 16 lines · last "), top)
        self.assertEqual(top["command"], plugin.OPEN_CONVERSATION)
        self.assertEqual(top["arguments"][0], SESSION)
        self.assertTrue(any(lens["range"]["start"]["line"] == 3 for lens in lenses), "a lens above greet()")

    def test_03_hover_and_its_link_open_the_conversation(self):
        self.lenses()
        text = self.hover(0)
        self.assertIn(PROMPT, text)
        self.assertIn("Write", text)
        links = [part.split(")", 1)[0] for part in text.split("](")[1:]]
        link = next(x for x in links if x.startswith("command:observatory.openConversation"))
        name, args = plugin.parse_command_uri(link)
        self.assertEqual((name, args[0]), (plugin.OPEN_CONVERSATION, SESSION))
        start = len(self.client.seen)
        self.assertTrue(self.plugin.on_open_uri_async(link, lambda *a: self.fail("no scratch view")))
        shown = self.shown_documents(start)
        self.assertEqual(len(shown), 1, shown)
        path = urllib.parse.unquote(urllib.parse.urlparse(shown[0]["uri"]).path)
        self.assertTrue(path.startswith(os.path.join(self.data, "editor")), path)
        self.assertTrue(path.endswith(".md"), path)
        with open(path, encoding="utf-8") as f:
            self.assertIn(PROMPT, f.read())
        # The server's documents get no session of their own.
        self.assertTrue(plugin.Observatory.should_ignore(sublime.View(path)))
        self.assertFalse(plugin.Observatory.should_ignore(self.view))
        self.assertEqual(self.window.opened, [], "LSP opens it on window/showDocument")

    def test_04_search_quick_panel_opens_the_chosen_conversation(self):
        self.lenses()
        command = plugin.ObservatorySearchCommand(self.window)
        command.run(query="greet")
        # This folder's path is not the recorded one (/Users/cjm/…): the search falls
        # back to every project.
        searches = [p for m, p in self.session.requests if m == "observatory/search"]
        self.assertEqual([p.get("project") for p in searches], [self.workspace, None])
        (items, on_select, placeholder), = self.window.quick_panels
        self.assertTrue(items, "hits for greet")
        self.assertTrue(any("<b>" in i.details and "greet" in i.details.lower() for i in items), [i.details for i in items])
        start = len(self.client.seen)
        on_select(0)
        opened = self.session.requests[-1]
        self.assertEqual(opened[1]["command"], plugin.OPEN_CONVERSATION)
        shown = self.shown_documents(start)
        self.assertEqual(len(shown), 1, shown)
        self.assertIn("/editor/", shown[0]["uri"])

    def test_05_copy_prompt_code_action_copies_and_the_server_stays_quiet(self):
        self.lenses()
        start = len(self.client.seen)
        actions = self.client.request(
            "textDocument/codeAction",
            {"textDocument": {"uri": self.uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
             "context": {"diagnostics": []}},
        )
        copy = next(a for a in actions if a["command"]["command"] == plugin.COPY_PROMPT)
        self.session.execute_command(copy["command"])
        self.assertEqual(sublime.clipboard, PROMPT)
        messages = [m for m in self.client.seen[start:] if m.get("method") == "window/showMessage"]
        self.assertEqual(messages, [], "shim: the package copies, the server shows nothing")

    def test_06_resume_code_action_runs_claude_in_this_folder(self):
        self.lenses()
        actions = self.client.request(
            "textDocument/codeAction",
            {"textDocument": {"uri": self.uri}, "range": {"start": {"line": 8, "character": 0}, "end": {"line": 8, "character": 0}},
             "context": {"diagnostics": []}},
        )
        resume = next(a for a in actions if a["command"]["command"] == plugin.RESUME_CONVERSATION)
        self.session.execute_command(resume["command"])
        self.assertEqual(self.window.commands, [("exec", {"cmd": ["claude", "--resume", SESSION], "working_dir": self.workspace})])

    def test_07_palette_copy_uses_the_blame_of_the_line(self):
        self.client.poll("observatory/blame", {"uri": self.uri}, lambda r: bool(r and r.get("runs")))
        self.view.set_cursor(8)
        plugin.ObservatoryCopyPromptCommand(self.view).run(None)
        self.assertEqual(sublime.clipboard, EDIT_PROMPT)

    def test_08_status_bar_follows_the_servers_notifications(self):
        status = self.client.poll("observatory/status", {}, lambda r: r and r.get("state") == "connected")
        self.assertEqual(plugin.status_text(status), "indexing…" if status.get("indexing") else "connected")
        # The platform the server started in the background (stopped by tearDownClass).
        self.assertEqual(status.get("source"), "started", status)
        with open(os.path.join(self.data, "serve.json")) as f:
            self.assertTrue(alive(json.load(f)["pid"]))
        note = self.client.wait_for(lambda m: m.get("method") == "observatory/status")
        self.assertIsNotNone(note, "an observatory/status notification")
        self.plugin.m_observatory_status(note["params"])
        self.assertIn(self.session.config_status, ("connecting…", "connected", "indexing…"))
        plugin.ObservatoryStatusCommand(self.window).run()
        (kind, text), = [c for c in sublime.calls if c[0] == "message_dialog"]
        self.assertTrue(text.startswith("Observatory: connected") or text.startswith("Observatory: indexing"), text)
        self.assertIn("http://127.0.0.1:", text)

    def test_09_inlay_hints_when_the_settings_turn_them_on(self):
        self.lenses()
        self.client.notify("workspace/didChangeConfiguration", {"settings": {"inlayHints": "all"}})
        hints = self.client.poll(
            "textDocument/inlayHint",
            {"textDocument": {"uri": self.uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 16, "character": 0}}},
            lambda r: bool(r),
        )
        labels = [h["label"] if isinstance(h["label"], str) else "".join(p["value"] for p in h["label"]) for h in hints]
        self.assertTrue(any(label.startswith("◆ ") for label in labels), labels)
        self.client.notify("workspace/didChangeConfiguration", {"settings": {"inlayHints": "off"}})


if __name__ == "__main__":
    unittest.main()
