"""What the tests share: plugin.py loaded against the stubs in stubs/, a reader for
Sublime's JSON with comments, and a session double with sublimelsp's calling
conventions (send_request with callbacks, execute_command through the plugin's
on_pre_server_command, as LSP's Session does)."""

import importlib.util
import json
import os
import re
import sys
import weakref

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PACKAGE_DIR))
sys.path.insert(0, os.path.join(HERE, "stubs"))

import sublime  # noqa: E402  (the stub)
from LSP import plugin as lsp_api  # noqa: E402  (the stub)

assert sublime.__file__.startswith(os.path.join(HERE, "stubs")), sublime.__file__


def load_plugin():
    """plugin.py as Sublime loads it: the module `LSP-observatory.plugin`."""
    name = "LSP-observatory.plugin"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(PACKAGE_DIR, "plugin.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def loads_sublime_json(text):
    """Sublime's resource JSON: // and /* */ comments and trailing commas allowed."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "".join(out)))


def read_sublime_json(name):
    with open(os.path.join(PACKAGE_DIR, name), encoding="utf-8") as f:
        return loads_sublime_json(f.read())


class Promise:
    """sublimelsp's Promise, settled at once."""

    def __init__(self, value=None):
        self.value = value

    def then(self, f):
        return Promise(f(self.value))


class FakeSession:
    """A session whose server answers from `answers` (method -> result, or a function
    of the params; an Exception instance is an error response)."""

    def __init__(self, window, answers=None):
        self.window = window
        self.answers = dict(answers or {})
        self.requests = []
        self.notifications = []
        self.config_status = None
        self.plugin = None

    def attach(self, plugin_class):
        self.plugin = plugin_class(weakref.ref(self))
        return self.plugin

    def answer(self, method, params):
        a = self.answers.get(method)
        if method == "workspace/executeCommand":
            a = self.answers.get(params["command"])
        return a(params) if callable(a) else a

    def send_request(self, request, on_result, on_error=None):
        self.requests.append((request.method, request.params))
        result = self.answer(request.method, request.params)
        if isinstance(result, Exception):
            (on_error or (lambda e: None))({"code": -32602, "message": str(result)})
        else:
            on_result(result)

    def send_notification(self, notification):
        self.notifications.append((notification.method, notification.params))

    def execute_command(self, command, progress=False, view=None):
        if self.plugin is not None:
            done = []
            if self.plugin.on_pre_server_command(command, lambda: done.append(True)):
                assert done, "the plugin must call done_callback"
                return Promise(None)
        box = []
        self.send_request(lsp_api.Request("workspace/executeCommand", command), box.append, box.append)
        return Promise(box[0] if box else None)

    def set_config_status_async(self, message):
        self.config_status = message
