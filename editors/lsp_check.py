"""Checks shared by the JetBrains, Helix and Zed configurations (editors/check.sh).

- `settings_from_docs` reads the "Settings" table of docs/lsp.md, and
  `check_settings_schema` holds the JSON Schema of the settings to it (draft-07, the
  same keys, the same defaults);
- `Session` runs a command line an editor would run (`observatory lsp`), speaks LSP
  over its stdio (Content-Length framing) as that editor's client would, with the
  initialization options and settings the configuration gives, against the ai-blame
  fixture: a copy of its `.claude` as HOME, a fresh data directory, a copy of its
  project as the workspace. `handshake` asserts what a user would get: the server's
  capabilities, no error message, a code lens and a hover on example.py, and (for a
  client that supports it) a conversation list written and shown by
  `window/showDocument`.

Needs Python 3.11+ (tomllib) and `jsonschema`; editors/check.sh makes the venv.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import jsonschema

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared/fixtures/transcripts/ai-blame/tests/examples"
SETTINGS_SCHEMA = REPO / "editors/jetbrains/template/settings.schema.json"

failures: list[str] = []
passes = 0


def check(what: str, ok: bool, detail: str = "") -> bool:
    """Record one check; print it as it goes."""
    global passes
    if ok:
        passes += 1
        print(f"  ok   {what}")
    else:
        failures.append(what)
        print(f"  FAIL {what}" + (f": {detail}" if detail else ""))
    return ok


def summary(name: str) -> int:
    """The closing line (`N passed, N failed`) and the exit status."""
    print(f"{name}: {passes} passed, {len(failures)} failed")
    return 1 if failures else 0


# --------------------------------------------------------------------------- settings

def settings_from_docs() -> dict[str, object]:
    """`{key: default}` from docs/lsp.md's "Settings" table (a default of `none` is None)."""
    text = (REPO / "docs/lsp.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    out: dict[str, object] = {}
    for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \|", section, re.M):
        default = m.group(2).strip().strip("`")
        out[m.group(1)] = None if default == "none" else json.loads(default)
    return out


def load_settings_schema() -> dict:
    return json.loads(SETTINGS_SCHEMA.read_text())


def check_settings_schema() -> None:
    schema = load_settings_schema()
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        check("settings.schema.json is a valid draft-07 JSON Schema", True)
    except jsonschema.SchemaError as e:
        check("settings.schema.json is a valid draft-07 JSON Schema", False, e.message)
        return
    check("settings.schema.json declares draft-07",
          schema.get("$schema") == "http://json-schema.org/draft-07/schema#")
    props = schema["definitions"]["settings"]["properties"]
    docs = settings_from_docs()
    check("docs/lsp.md's settings table was read", len(docs) >= 8, f"{docs}")
    check("the schema's settings are docs/lsp.md's", set(props) == set(docs),
          f"schema {sorted(props)} vs docs {sorted(docs)}")
    for key, default in docs.items():
        if key in props and default is not None:
            check(f"default of {key} as docs/lsp.md says ({default!r})",
                  props[key].get("default") == default, f"{props[key].get('default')!r}")
    v = jsonschema.Draft7Validator(schema)
    check("the schema refuses inlayHints: \"sometimes\"",
          not v.is_valid({"inlayHints": "sometimes"}))
    check("the schema refuses a nested wrongly typed value",
          not v.is_valid({"observatory": {"codeLens": "yes"}}))
    check("the schema accepts every default, flat and nested",
          v.is_valid({k: d for k, d in docs.items() if d is not None})
          and v.is_valid({"observatory": {k: d for k, d in docs.items() if d is not None}}))


def check_settings_value(what: str, value: object) -> None:
    """`value` (initialization options or settings) is valid against the schema."""
    errors = [e.message for e in jsonschema.Draft7Validator(load_settings_schema()).iter_errors(value)]
    check(f"{what} is valid against settings.schema.json", not errors, "; ".join(errors))
    flat = value.get("observatory", value) if isinstance(value, dict) else {}
    known = set(settings_from_docs())
    unknown = sorted(set(flat) - known) if isinstance(flat, dict) else []
    check(f"{what} names only settings docs/lsp.md documents", not unknown, f"{unknown}")


def find_binary() -> Path:
    """The `observatory` binary the checks run ($OBSERVATORY_BIN, else the debug build)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/observatory-target"))
    return Path(os.environ.get("OBSERVATORY_BIN", target / "debug/observatory"))


# --------------------------------------------------------------------------- LSP

class Session:
    """A language server started from `argv` in a temporary setting with the fixture."""

    def __init__(self, argv: list[str], *, path_binary: bool = True):
        self.dir = Path(tempfile.mkdtemp(prefix="observatory-editors-"))
        home, data, bindir = self.dir / "home", self.dir / "data", self.dir / "bin"
        shutil.copytree(FIXTURE / "simple-home/.claude", home / ".claude")
        shutil.copytree(FIXTURE / "simple", self.dir / "work/simple")
        bindir.mkdir()
        if path_binary:
            # `observatory` on PATH, as a user who installed it has it.
            (bindir / "observatory").symlink_to(find_binary())
        env = {k: v for k, v in os.environ.items()
               if k not in ("OBSERVATORY_URL", "OBSERVATORY_API_KEY", "CLAUDE_CONFIG_DIR")}
        env.update(HOME=str(home), OBSERVATORY_DATA_DIR=str(data),
                   PATH=f"{bindir}:{env.get('PATH', '')}")
        self.env = env
        self.workspace = self.dir / "work/simple"
        self.resolved = shutil.which(argv[0], path=env["PATH"])
        self.proc: subprocess.Popen | None = None
        if self.resolved is None:
            return
        self.proc = subprocess.Popen(
            [self.resolved, *argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.dir / "stderr.log", "wb"), env=env, cwd=self.workspace)
        self.inbox: queue.Queue = queue.Queue()
        self.notifications: list[dict] = []
        self.requests: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    # framing -------------------------------------------------------------------------
    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.inbox.put(json.loads(body))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: object) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: object, timeout: float = 30) -> dict:
        """The response (`result` or `error`), answering the server's requests meanwhile."""
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method} in {timeout} s")
            try:
                msg = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if msg is None:
                raise EOFError(f"the server closed its output during {method}")
            if "method" in msg and "id" in msg:  # a request from the server
                self.requests.append(msg)
                self.send({"id": msg["id"], "result": self._answer(msg)})
            elif "method" in msg:
                self.notifications.append(msg)
            elif msg.get("id") == rid:
                return msg

    def _answer(self, msg: dict) -> object:
        if msg["method"] == "window/showDocument":
            return {"success": True}
        return None

    def messages(self, kind: int) -> list[str]:
        """`window/showMessage` texts of a type (1 error, 2 warning)."""
        return [n["params"]["message"] for n in self.notifications
                if n["method"] == "window/showMessage" and n["params"].get("type") == kind]

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout=10)
                self.notify("exit", None)
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - stopping is best effort, then kill
                self.proc.kill()
                self.proc.wait()
        # The platform the server started outlives it, by design: stop it.
        serve = self.dir / "data/serve.json"
        if serve.exists():
            pid = json.loads(serve.read_text())["pid"]
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.1)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


# What each client tells the server it supports (the parts that change what it sends).
def client_capabilities(*, show_document: bool, code_lens_refresh: bool) -> dict:
    return {
        "window": {"showDocument": {"support": show_document}, "workDoneProgress": True},
        "workspace": {
            "configuration": True,
            "didChangeConfiguration": {"dynamicRegistration": False},
            "codeLens": {"refreshSupport": code_lens_refresh},
            "inlayHint": {"refreshSupport": True},
            "executeCommand": {},
        },
        "textDocument": {
            "synchronization": {"didSave": True},
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "codeLens": {},
            "inlayHint": {},
            "codeAction": {"codeActionLiteralSupport": {
                "codeActionKind": {"valueSet": ["", "quickfix", "refactor", "source"]}}},
        },
        "general": {"positionEncodings": ["utf-16"]},
    }


def handshake(label: str, argv: list[str], *, init_options: object, settings: object | None,
              show_document: bool, code_lens_refresh: bool) -> None:
    """Start `argv` as the editor would and check what the user gets."""
    s = Session(argv)
    try:
        if not check(f"{label}: `{' '.join(argv)}` resolves to an executable on PATH",
                     s.resolved is not None and os.access(s.resolved, os.X_OK), f"{argv[0]}"):
            return
        root = s.workspace.as_uri()
        init = s.request("initialize", {
            "processId": os.getpid(), "rootUri": root,
            "workspaceFolders": [{"uri": root, "name": "simple"}],
            "clientInfo": {"name": label},
            "capabilities": client_capabilities(show_document=show_document,
                                                code_lens_refresh=code_lens_refresh),
            "initializationOptions": init_options,
        })
        caps = init.get("result", {}).get("capabilities", {})
        check(f"{label}: initialize succeeds", "result" in init, json.dumps(init.get("error")))
        check(f"{label}: the server offers code lenses, hover, inlay hints, code actions",
              bool(caps.get("codeLensProvider")) and bool(caps.get("hoverProvider"))
              and bool(caps.get("inlayHintProvider")) and bool(caps.get("codeActionProvider")),
              json.dumps(caps)[:400])
        commands = caps.get("executeCommandProvider", {}).get("commands", [])
        check(f"{label}: the server lists its commands",
              {"observatory.openConversation", "observatory.listConversations",
               "observatory.search"} <= set(commands), f"{commands}")
        ext = caps.get("experimental", {}).get("observatory", {})
        check(f"{label}: the custom requests are advertised",
              {"observatory/search", "observatory/conversations", "observatory/conversation",
               "observatory/blame", "observatory/status"} <= set(ext.get("requests", [])),
              f"{ext}")
        s.notify("initialized", {})
        if settings is not None:
            s.notify("workspace/didChangeConfiguration", {"settings": settings})
        path = s.workspace / "example.py"
        uri = path.as_uri()
        s.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": path.read_text()}})
        lenses: list = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            lenses = s.request("textDocument/codeLens", {"textDocument": {"uri": uri}}).get("result") or []
            if any("agent conversation" in (lens.get("command") or {}).get("title", "")
                   for lens in lenses):
                break
            time.sleep(0.5)
        titles = [(lens.get("command") or {}).get("title", "") for lens in lenses]
        check(f"{label}: example.py gets its file lens ('… agent conversation …')",
              any("agent conversation" in t for t in titles), f"{titles}")
        hover = s.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": 11, "character": 4}})
        contents = json.dumps((hover.get("result") or {}).get("contents", ""))
        check(f"{label}: hover on line 12 names the prompt",
              "create some files for test purposes" in contents, contents[:300])
        actions = s.request("textDocument/codeAction", {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 11, "character": 11}, "end": {"line": 11, "character": 11}},
            "context": {"diagnostics": []}}).get("result") or []
        titles = [a.get("title", "") for a in actions]
        check(f"{label}: code actions on line 12 open the conversation, show the diff",
              any("open" in t.lower() and "conversation" in t.lower() for t in titles)
              and any("diff" in t.lower() for t in titles), f"{titles}")
        symbols = s.request("workspace/symbol", {"query": "greet"}).get("result") or []
        check(f"{label}: workspace/symbol finds greet, a function agents changed",
              any(sym.get("name", "").startswith("greet") for sym in symbols),
              json.dumps(symbols)[:300])
        status = s.request("observatory/status", {})
        check(f"{label}: observatory/status answers",
              (status.get("result") or {}).get("state") in ("connecting", "connected"),
              json.dumps(status))
        if show_document:
            res = s.request("workspace/executeCommand", {
                "command": "observatory.listConversations", "arguments": [uri]})
            shown = [r for r in s.requests if r["method"] == "window/showDocument"]
            doc = Path((res.get("result") or {}).get("path", "/nonexistent"))
            check(f"{label}: observatory.listConversations writes the list and asks to show it",
                  bool(shown) and doc.is_file() and "2c965cfd" in doc.read_text(),
                  json.dumps(res)[:300])
        else:
            # A client that cannot show documents still gets the file, named in the result.
            res = s.request("workspace/executeCommand", {
                "command": "observatory.listConversations", "arguments": [uri]})
            out = res.get("result") or {}
            check(f"{label}: without window/showDocument, listConversations returns the file it wrote",
                  out.get("shown") is False and Path(out.get("path", "/nonexistent")).is_file()
                  and not [r for r in s.requests if r["method"] == "window/showDocument"],
                  json.dumps(res)[:300])
        errors = s.messages(1)
        check(f"{label}: no error message from the server (settings accepted)", not errors,
              f"{errors}")
    except (TimeoutError, EOFError) as e:
        stderr = (s.dir / "stderr.log").read_text(errors="replace")[-2000:]
        check(f"{label}: the session ran", False, f"{e}\n{stderr}")
    finally:
        s.close()
