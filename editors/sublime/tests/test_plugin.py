"""plugin.py without Sublime Text: its logic against stubbed `sublime`,
`sublime_plugin` and `LSP.plugin` modules (tests/stubs) and a session double."""

import ast
import os
import stat
import tempfile
import unittest

from support import PACKAGE_DIR, FakeSession, load_plugin, lsp_api, read_sublime_json, sublime

plugin = load_plugin()

SESSION = "2c965cfd-41e4-4e31-8339-2986ebced03c"
MESSAGE = "186bc58d-e2bf-4e2e-ac6d-1e0257b9e5e6"
BLAME = {
    "version": 1,
    "runs": [
        {"start_line": 1, "end_line": 8, "session_id": SESSION, "message_uuid": "m1", "tool_use_id": "t1",
         "prompt": "create some files", "conversation_title": "create some files", "project": "/Users/cjm/repos/x"},
        {"start_line": 9, "end_line": 10, "session_id": SESSION, "message_uuid": MESSAGE, "tool_use_id": "t2",
         "prompt": "make some minor changes", "conversation_title": "create some files", "project": "/Users/cjm/repos/x"},
    ],
}
TEXT = "\n".join("line {}".format(i) for i in range(1, 17))


def executable(directory, name="observatory"):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class Base(unittest.TestCase):
    def setUp(self):
        sublime.reset()
        lsp_api.sessions.clear()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.work = os.path.join(self.tmp.name, "work")
        os.makedirs(os.path.join(self.work, "pkg"))
        self.file = os.path.join(self.work, "pkg", "example.py")
        self.window = sublime.Window([self.work])
        self.view = sublime.View(self.file, TEXT, self.window)
        self.window.view = self.view
        self.session = FakeSession(self.window, {"observatory/blame": BLAME})
        lsp_api.sessions[plugin.SESSION_NAME] = self.session
        self.instance = self.session.attach(plugin.Observatory)


class BinaryLookup(Base):
    def test_setting_then_environment_then_path_then_cargo(self):
        a = executable(self.tmp.name, "a")
        b = executable(self.tmp.name, "b")
        on_path = lambda name: "/usr/bin/" + name  # noqa: E731
        nowhere = lambda name: None  # noqa: E731
        self.assertEqual(plugin.find_binary(a, {"OBSERVATORY_PATH": b}, on_path), (a, None))
        self.assertEqual(plugin.find_binary("", {"OBSERVATORY_PATH": b}, on_path), (b, None))
        self.assertEqual(plugin.find_binary(None, {}, on_path), ("/usr/bin/observatory", None))
        home = self.tmp.name
        os.makedirs(os.path.join(home, ".cargo", "bin"))
        cargo = executable(os.path.join(home, ".cargo", "bin"))
        self.assertEqual(plugin.find_binary(None, {}, nowhere, home), (cargo, None))

    def test_a_setting_naming_no_binary_is_an_error_with_the_fix(self):
        path, error = plugin.find_binary("/nope/observatory", {}, lambda n: "/usr/bin/observatory")
        self.assertIsNone(path)
        self.assertIn('the "binary" setting', error)
        self.assertIn("/nope/observatory", error)
        self.assertIn("Fix:", error)
        path, error = plugin.find_binary("", {"OBSERVATORY_PATH": "/nope"}, lambda n: None)
        self.assertIn("OBSERVATORY_PATH", error)

    def test_missing_everywhere_names_every_place_and_the_fix(self):
        path, error = plugin.find_binary("", {}, lambda n: None, self.tmp.name)
        self.assertIsNone(path)
        for part in ('"binary"', "OBSERVATORY_PATH", "PATH", "~/.cargo/bin", "cargo install", "LSP-observatory Settings"):
            self.assertIn(part, error)

    def test_can_start_refuses_with_the_message_and_variables_name_the_binary(self):
        plugin.Observatory.told = None
        sublime.set_settings(plugin.SETTINGS_FILE, {"binary": "/nope/observatory"})
        error = plugin.Observatory.can_start(self.window, self.view, [], None)
        self.assertIn("/nope/observatory", error)
        self.assertNotIn("\n", error, "one line for LSP's status message")
        (kind, dialog), = [c for c in sublime.calls if c[0] == "error_message"]
        self.assertIn("/nope/observatory", dialog)
        self.assertIn("Fix:", dialog)
        plugin.Observatory.can_start(self.window, self.view, [], None)
        self.assertEqual(len([c for c in sublime.calls if c[0] == "error_message"]), 1, "told once")
        good = executable(self.tmp.name)
        sublime.set_settings(plugin.SETTINGS_FILE, {"binary": good})
        self.assertIsNone(plugin.Observatory.can_start(self.window, self.view, [], None))
        self.assertEqual(plugin.Observatory.additional_variables(), {"observatory_binary": good})
        settings = read_sublime_json("LSP-observatory.sublime-settings")
        self.assertEqual(settings["command"], ["$observatory_binary", "lsp"])


class SettingsToInitializationOptions(Base):
    def test_defaults_from_the_settings_file_with_shim(self):
        given = read_sublime_json("LSP-observatory.sublime-settings")["initializationOptions"]
        self.assertEqual(
            plugin.initialization_options(given),
            {"codeLens": True, "hover": True, "inlayHints": "off", "codeActions": True, "shim": True},
        )

    def test_unset_values_are_left_to_the_server_and_shim_is_forced(self):
        options = plugin.initialization_options(
            {"url": "", "apiKey": None, "inlayHints": "currentLine", "debounceMs": 100, "shim": False}
        )
        self.assertEqual(options, {"inlayHints": "currentLine", "debounceMs": 100, "shim": True})

    def test_on_pre_start_rewrites_the_configuration(self):
        config = lsp_api.ClientConfig(
            "LSP-observatory", ["$observatory_binary", "lsp"],
            lsp_api.DottedDict({"url": "", "codeLens": False}),
        )
        self.assertIsNone(plugin.Observatory.on_pre_start(self.window, self.view, [], config))
        self.assertEqual(config.init_options.get(), {"codeLens": False, "shim": True})


class ObservatoryDocuments(Base):
    def test_the_servers_documents_get_no_session(self):
        data = os.path.join(self.tmp.name, "data")
        sublime.set_settings(plugin.SETTINGS_FILE, {"env": {"OBSERVATORY_DATA_DIR": data}})
        doc = sublime.View(os.path.join(data, "editor", "conversation-2c965cfd.md"))
        self.assertTrue(plugin.Observatory.should_ignore(doc))
        self.assertFalse(plugin.Observatory.should_ignore(self.view))
        self.assertFalse(plugin.Observatory.should_ignore(sublime.View(None)))

    def test_data_dir_resolution(self):
        self.assertEqual(plugin.data_dir({}, {"OBSERVATORY_DATA_DIR": "/d"}), "/d")
        self.assertEqual(plugin.data_dir({"OBSERVATORY_DATA_DIR": "/s"}, {"OBSERVATORY_DATA_DIR": "/d"}), "/s")
        self.assertEqual(plugin.data_dir({}, {"XDG_DATA_HOME": "/x", "HOME": "/h"}), "/x/observatory")
        self.assertEqual(plugin.data_dir({}, {"HOME": "/h"}), "/h/.local/share/observatory")


class Status(Base):
    def test_notifications_set_the_status_bar(self):
        self.instance.m_observatory_status({"state": "connected", "url": "http://127.0.0.1:1", "indexing": True})
        self.assertEqual(self.session.config_status, "indexing…")
        self.instance.m_observatory_status({"state": "connected", "indexing": False})
        self.assertEqual(self.session.config_status, "connected")
        self.instance.m_observatory_status({"state": "refused", "reason": "apiKeyRequired"})
        self.assertEqual(self.session.config_status, "refused: API key required")
        self.instance.m_observatory_status({"state": "offline", "message": "connection refused"})
        self.assertEqual(self.session.config_status, "offline")
        self.instance.m_observatory_didChangeInsights({"uri": "file:///x"})  # handled: no error

    def test_status_command_shows_the_reason_and_the_fix(self):
        self.session.answers["observatory/status"] = {
            "state": "refused", "reason": "apiKeyRequired", "url": "https://o.example.com", "source": "configured",
            "message": "an API key is needed",
        }
        plugin.ObservatoryStatusCommand(self.window).run()
        (kind, text), = [c for c in sublime.calls if c[0] == "message_dialog"]
        self.assertIn("https://o.example.com (the url setting)", text)
        self.assertIn("an API key is needed", text)
        self.assertIn('"apiKey"', text)


class Search(Base):
    PAGE = {
        "hits": [
            {"session_id": SESSION, "conversation_title": "create some files\nfor tests", "project": "/p",
             "message_uuid": MESSAGE, "kind": "prompt", "role": "user", "tool": None, "model": None,
             "at": "2025-12-28T15:22:14Z", "snippet": "def <mark>greet</mark>(name) -> a & b <tag>"},
            {"session_id": "other", "conversation_title": "", "project": "/p", "message_uuid": "m9",
             "kind": "tool_use", "role": "assistant", "tool": "Edit", "model": "m", "at": None, "snippet": "x"},
        ],
        "next_offset": None, "ranked_newest": None,
    }

    def test_hits_become_quick_panel_rows(self):
        rows = plugin.search_items(self.PAGE)
        self.assertEqual(
            rows[0],
            ("create some files for tests", "def <b>greet</b>(name) -&gt; a &amp; b &lt;tag&gt;", "prompt · 2025-12-28"),
        )
        self.assertEqual(rows[1], ("other", "x", "tool_use Edit"))

    def test_search_in_the_folder_then_everywhere_and_open_the_choice(self):
        scoped = []

        def search(params):
            scoped.append(params.get("project"))
            return {"hits": []} if params.get("project") else self.PAGE

        self.session.answers["observatory/search"] = search
        self.session.answers[plugin.OPEN_CONVERSATION] = {"uri": "file:///d/c.md", "path": "/d/c.md", "line": 656, "shown": True}
        command = plugin.ObservatorySearchCommand(self.window)
        command.run(query="greet")
        self.assertEqual(scoped, [self.work, None])
        (items, on_select, placeholder), = self.window.quick_panels
        self.assertEqual([i.trigger for i in items], ["create some files for tests", "other"])
        self.assertEqual(placeholder, "Conversations about greet")
        on_select(0)
        self.assertEqual(
            self.session.requests[-1],
            ("workspace/executeCommand", {"command": "observatory.openConversation", "arguments": [SESSION, MESSAGE]}),
        )
        self.assertEqual(self.window.opened, [], "LSP opened it (window/showDocument)")

    def test_all_projects_and_no_hits(self):
        self.session.answers["observatory/search"] = {"hits": []}
        plugin.ObservatorySearchCommand(self.window).run(query="nothing", all_projects=True)
        self.assertEqual(self.session.requests, [("observatory/search", {"query": "nothing", "limit": 50})])
        self.assertIn(("status_message", "Observatory: no conversation mentions nothing"), sublime.calls)

    def test_refused_query_shows_the_servers_reason(self):
        self.session.answers["observatory/search"] = ValueError("bad search query: gr* is too short a prefix")
        plugin.ObservatorySearchCommand(self.window).run(query="gr*", all_projects=True)
        self.assertIn(("status_message", "Observatory: bad search query: gr* is too short a prefix"), sublime.calls)

    def test_query_input_starts_with_the_word_under_the_cursor(self):
        self.view._text = "def greet(name):"
        self.view.set_cursor(0, 6)
        handler = plugin.ObservatorySearchCommand(self.window).input({})
        self.assertEqual(handler.name(), "query")
        self.assertEqual(handler.initial_text(), "greet")
        self.assertFalse(handler.validate("  "))
        self.assertIsNone(plugin.ObservatorySearchCommand(self.window).input({"query": "x"}))


class ShowDocument(Base):
    def test_a_document_the_editor_did_not_show_is_opened_at_its_line(self):
        self.assertEqual(plugin.shown_fallback({"path": "/d/c.md", "line": 656, "shown": False}), "/d/c.md:657")
        self.assertIsNone(plugin.shown_fallback({"path": "/d/c.md", "line": 656, "shown": True}))
        self.assertIsNone(plugin.shown_fallback(None))
        plugin.open_shown(self.window, {"uri": "file:///d/c.md", "path": "/d/c.md", "line": 3, "shown": False})
        self.assertEqual(self.window.opened, [("/d/c.md:4", sublime.ENCODED_POSITION)])

    def test_open_the_conversation_that_wrote_the_line(self):
        self.session.answers[plugin.OPEN_CONVERSATION] = {"path": "/d/c.md", "line": 10, "shown": False}
        self.view.set_cursor(8)  # line 9: the Edit
        plugin.ObservatoryOpenConversationCommand(self.view).run(None)
        self.assertEqual(self.session.requests[0], ("observatory/blame", {"uri": "file://" + self.file}))
        self.assertEqual(self.session.requests[1][1], {"command": plugin.OPEN_CONVERSATION, "arguments": [SESSION, MESSAGE]})
        self.assertEqual(self.window.opened, [("/d/c.md:11", sublime.ENCODED_POSITION)])

    def test_no_run_at_the_cursor_lists_the_files_conversations(self):
        self.view.set_cursor(14)
        plugin.ObservatoryOpenConversationCommand(self.view).run(None)
        self.assertEqual(self.session.requests[1][1], {"command": plugin.LIST_CONVERSATIONS, "arguments": ["file://" + self.file]})

    def test_hover_links_run_the_command(self):
        uri = "command:observatory.openConversation?%5B%22" + SESSION + "%22%2C%22" + MESSAGE + "%22%5D"
        self.assertEqual(plugin.parse_command_uri(uri), ("observatory.openConversation", [SESSION, MESSAGE]))
        self.assertIsNone(plugin.parse_command_uri("https://example.com"))
        self.assertIsNone(plugin.parse_command_uri("command:editor.action.x"))
        # Only the link the server writes: another came from a transcript's text.
        self.assertIsNone(plugin.parse_command_uri("command:observatory.resumeConversation?%5B%22x%22%5D"))
        self.session.answers[plugin.OPEN_CONVERSATION] = {"path": "/d/c.md", "line": 0, "shown": True}
        self.assertTrue(self.instance.on_open_uri_async(uri, lambda *a: self.fail("no scratch view")))
        self.assertEqual(self.session.requests[-1][1], {"command": plugin.OPEN_CONVERSATION, "arguments": [SESSION, MESSAGE]})
        self.assertFalse(self.instance.on_open_uri_async("https://example.com", lambda *a: None))

    def test_conversations_of_the_file_in_a_quick_panel(self):
        self.session.answers["observatory/conversations"] = {
            "items": [{"session_id": SESSION, "title": "create some files", "message_count": 12,
                       "started_at": "2025-12-28T15:00:00Z", "ended_at": "2025-12-28T16:00:00Z"}],
            "next_cursor": None,
        }
        self.session.answers[plugin.OPEN_CONVERSATION] = {"path": "/d/c.md", "line": 0, "shown": True}
        plugin.ObservatoryConversationsCommand(self.view).run(None)
        (items, on_select, _), = self.window.quick_panels
        self.assertEqual((items[0].trigger, items[0].details, items[0].annotation), ("create some files", "12 messages", "2025-12-28"))
        on_select(0)
        self.assertEqual(self.session.requests[-1][1], {"command": plugin.OPEN_CONVERSATION, "arguments": [SESSION]})


class Resume(Base):
    RESULT = {"command": "claude", "args": ["--resume", SESSION], "cwd": "/Users/cjm/repos/x",
              "commandLine": "claude --resume " + SESSION}

    def test_cwd_is_the_folder_holding_the_file(self):
        inner = os.path.join(self.work, "pkg")
        self.assertEqual(plugin.resume_cwd(self.file, [self.work, inner], "/elsewhere"), inner)
        self.assertEqual(plugin.resume_cwd(None, [self.work], "/elsewhere"), self.work)
        self.assertEqual(plugin.resume_cwd("/other/file.py", [self.work], None), self.work)
        self.assertEqual(plugin.resume_cwd(None, [], self.tmp.name), self.tmp.name)
        self.assertEqual(plugin.resume_cwd(None, [], "/not/here", home="/home/u"), "/home/u")

    def test_code_action_runs_claude_resume_in_terminus(self):
        sublime.resources["Terminus.sublime-settings"] = ["Packages/Terminus/Terminus.sublime-settings"]
        self.session.answers[plugin.RESUME_CONVERSATION] = self.RESULT
        self.session.execute_command({"command": plugin.RESUME_CONVERSATION, "arguments": [SESSION, "/Users/cjm/repos/x"]})
        self.assertEqual(self.session.requests[-1][0], "workspace/executeCommand")
        self.assertEqual(
            self.window.commands,
            [("terminus_open", {"cmd": ["claude", "--resume", SESSION], "cwd": self.work,
                                "title": "claude --resume " + SESSION, "auto_close": False})],
        )

    def test_without_terminus_an_exec_panel(self):
        self.session.answers[plugin.RESUME_CONVERSATION] = self.RESULT
        plugin.ObservatoryResumeCommand(self.view).run(None)
        self.assertEqual(self.session.requests[1][1]["arguments"], [SESSION, "/Users/cjm/repos/x"])
        self.assertEqual(self.window.commands, [("exec", {"cmd": ["claude", "--resume", SESSION], "working_dir": self.work})])

    def test_terminus_in_ignored_packages_does_not_count(self):
        sublime.resources["Terminus.sublime-settings"] = ["Packages/Terminus/Terminus.sublime-settings"]
        sublime.set_settings("Preferences.sublime-settings", {"ignored_packages": ["Terminus"]})
        self.assertEqual(plugin.resume_invocation(self.RESULT, "/w", plugin._terminus_installed())[0], "exec")

    def test_a_failed_command_is_reported_and_done(self):
        self.session.answers[plugin.RESUME_CONVERSATION] = ValueError("argument 1 must be a conversation id")
        self.session.execute_command({"command": plugin.RESUME_CONVERSATION, "arguments": []})
        self.assertIn(("status_message", "Observatory: argument 1 must be a conversation id"), sublime.calls)
        self.assertEqual(self.window.commands, [])


class CopyPrompt(Base):
    def test_code_action_copies_the_servers_prompt(self):
        self.session.answers[plugin.COPY_PROMPT] = {"prompt": "make some minor changes"}
        self.session.execute_command({"command": plugin.COPY_PROMPT, "arguments": [SESSION, "t2", "file:///x"]})
        self.assertEqual(sublime.clipboard, "make some minor changes")
        self.assertIn(("status_message", "Observatory: prompt copied (23 characters)"), sublime.calls)

    def test_palette_command_copies_the_prompt_of_the_line(self):
        self.view.set_cursor(0)
        plugin.ObservatoryCopyPromptCommand(self.view).run(None)
        self.assertEqual(sublime.clipboard, "create some files")

    def test_a_line_no_agent_wrote(self):
        self.view.set_cursor(15)
        plugin.ObservatoryCopyPromptCommand(self.view).run(None)
        self.assertEqual(sublime.clipboard, "")
        self.assertIn(("status_message", "Observatory: no agent wrote this line"), sublime.calls)

    def test_other_commands_go_to_the_server(self):
        self.assertFalse(self.instance.on_pre_server_command({"command": plugin.OPEN_CONVERSATION, "arguments": []}, lambda: None))


class Diff(Base):
    def test_show_the_diff_of_the_line(self):
        self.session.answers[plugin.SHOW_DIFF] = {"path": "/d/x.diff", "line": 0, "shown": True}
        self.view.set_cursor(9)
        plugin.ObservatoryShowDiffCommand(self.view).run(None)
        self.assertEqual(self.session.requests[1][1], {"command": plugin.SHOW_DIFF, "arguments": [self.file, "t2"]})


class Cursor(Base):
    def test_current_line_hints_follow_the_cursor(self):
        listener = plugin.ObservatoryCursorListener(self.view)
        listener.on_selection_modified_async()
        self.assertEqual([c for c in sublime.calls if c[0] == "view.run_command"], [], "off: nothing sent")
        sublime.set_settings(plugin.SETTINGS_FILE, {"initializationOptions": {"inlayHints": "currentLine"}})
        listener.on_selection_modified_async()
        self.assertIn(("view.run_command", "observatory_did_change_cursor", None), sublime.calls)
        self.view.set_cursor(4, 2)
        plugin.ObservatoryDidChangeCursorCommand(self.view).run(None)
        self.assertEqual(
            self.session.notifications,
            [("observatory/didChangeCursor", {"textDocument": {"uri": "file://" + self.file}, "position": {"line": 4, "character": 2}})],
        )


class Loading(unittest.TestCase):
    def test_registers_and_unregisters(self):
        plugin.plugin_loaded()
        self.assertIn(plugin.Observatory, lsp_api.registered)
        plugin.plugin_unloaded()
        self.assertNotIn(plugin.Observatory, lsp_api.registered)
        self.assertEqual(plugin.Observatory.name(), "LSP-observatory")
        self.assertEqual(plugin.Observatory.configuration()[1], "Packages/LSP-observatory/LSP-observatory.sublime-settings")

    def test_python_38_syntax(self):
        # Sublime Text runs the package on Python 3.8 (.python-version).
        with open(os.path.join(PACKAGE_DIR, ".python-version")) as f:
            self.assertEqual(f.read().strip(), "3.8")
        with open(os.path.join(PACKAGE_DIR, "plugin.py"), encoding="utf-8") as f:
            ast.parse(f.read(), feature_version=(3, 8))


if __name__ == "__main__":
    unittest.main()
