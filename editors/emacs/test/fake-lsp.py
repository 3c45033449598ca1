#!/usr/bin/env python3
"""A stand-in for a buffer's own language server (pyright, rust-analyzer...).

Answers initialize, hover and shutdown, and appends every method it receives to the
file named by its first argument, so a test can tell it stayed the buffer's server.
"""
import json
import sys

log = open(sys.argv[1], "a", buffering=1)
inp, out = sys.stdin.buffer, sys.stdout.buffer


def send(msg):
    body = json.dumps(msg).encode()
    out.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    out.flush()


while True:
    length = None
    while True:
        line = inp.readline()
        if not line:
            sys.exit(0)
        line = line.strip()
        if not line:
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    msg = json.loads(inp.read(length))
    method = msg.get("method")
    log.write(f"{method}\n")
    if method == "exit":
        sys.exit(0)
    if "id" not in msg or method is None:
        continue
    result = None
    if method == "initialize":
        result = {"capabilities": {"textDocumentSync": 1, "hoverProvider": True},
                  "serverInfo": {"name": "fake-lsp"}}
    elif method == "textDocument/hover":
        result = {"contents": "the fake server's hover"}
    send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
