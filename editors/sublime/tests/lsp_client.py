"""A minimal LSP client over a child process's stdio (JSON-RPC framing, requests with
ids, answers to the requests the server sends), for the integration test."""

import json
import queue
import subprocess
import threading
import time

# What sublimelsp's client says it supports, as far as Observatory's server looks.
SUBLIME_LSP_CAPABILITIES = {
    "general": {"positionEncodings": ["utf-16"]},
    "window": {"showDocument": {"support": True}, "workDoneProgress": True, "showMessage": {}},
    "workspace": {
        "codeLens": {"refreshSupport": True},
        "inlayHint": {"refreshSupport": True},
        "configuration": True,
        "didChangeConfiguration": {"dynamicRegistration": True},
        "executeCommand": {},
        "symbol": {},
    },
    "textDocument": {
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "codeLens": {},
        "inlayHint": {},
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "refactor", "source"]}}},
        "synchronization": {"didSave": True},
    },
}


class LspError(Exception):
    def __init__(self, error):
        super().__init__(error.get("message", str(error)))
        self.error = error


class LspClient:
    def __init__(self, argv, env, cwd=None):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
        self.inbox = queue.Queue()
        self.seen = []  # every notification and request from the server, in order
        self.next_id = 1
        self.stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            self.inbox.put(json.loads(out.read(length)))

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def send(self, message):
        body = json.dumps(message).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def _take(self, m):
        """A message from the server: requests are answered as sublimelsp would."""
        if "method" in m:
            if "id" in m:
                result = None
                if m["method"] == "window/showDocument":
                    result = {"success": True}
                elif m["method"] == "workspace/configuration":
                    result = [None for _ in m["params"].get("items", [])]
                self.send({"jsonrpc": "2.0", "id": m["id"], "result": result})
            self.seen.append(m)
            return None
        return m

    def _next(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer to {} in time".format(what))
        try:
            m = self.inbox.get(timeout=left)
        except queue.Empty:
            raise TimeoutError("no answer to {} in time".format(what))
        if m is None:
            raise RuntimeError("the server exited during {}; stderr:\n{}".format(what, "".join(self.stderr[-30:])))
        return m

    def request(self, method, params, timeout=60):
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            m = self._take(self._next(deadline, method))
            if m is not None and m.get("id") == rid:
                if "error" in m:
                    raise LspError(m["error"])
                return m.get("result")

    def wait_for(self, pred, timeout=30, start=0):
        deadline = time.monotonic() + timeout
        while True:
            for m in self.seen[start:]:
                if pred(m):
                    return m
            try:
                m = self._next(deadline, "a message from the server")
            except TimeoutError:
                return None
            self._take(m)

    def poll(self, method, params, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.request(method, params)
            except LspError:
                r = None
            if pred(r):
                return r
            if time.monotonic() > deadline:
                raise AssertionError("{} never satisfied the test; last answer: {!r}".format(method, r))
            time.sleep(0.1)

    def stop(self):
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
