#!/usr/bin/env python3
"""Runs `observatory index` into an empty data directory and prints, per thread,
the time it spent on a CPU and waiting for one (from /proc/<pid>/task/*/schedstat,
read until the process exits). Which thread sets the pace of a cold index, and
whether it waits for CPU or for the other threads (docs/benchmarks.md, #15).

    scripts/index-threads.py BINARY TRANSCRIPTS_DIR
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, transcripts = sys.argv[1:]
    data = tempfile.mkdtemp(prefix="observatory-threads-")
    try:
        started = time.monotonic()
        proc = subprocess.Popen(
            [binary, "index", "--data-dir", data, "--claude-dir", transcripts],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The last reading of each thread: a thread's file goes when it ends.
        last: dict[str, tuple[str, int, int]] = {}
        while proc.poll() is None:
            try:
                tids = os.listdir(f"/proc/{proc.pid}/task")
            except OSError:
                break
            for tid in tids:
                try:
                    with open(f"/proc/{proc.pid}/task/{tid}/comm") as f:
                        name = f.read().strip()
                    with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as f:
                        on_cpu, waiting, _ = f.read().split()
                except OSError:
                    continue
                last[tid] = (name, int(on_cpu), int(waiting))
            time.sleep(0.01)
        wall = time.monotonic() - started
        print(f"exit {proc.returncode}, {wall:.2f} s")
        print(f"{'thread':<16} {'on a CPU':>10} {'waiting for one':>16}")
        for name, on_cpu, waiting in sorted(last.values(), key=lambda t: -t[1]):
            if on_cpu >= 10_000_000:
                print(f"{name:<16} {on_cpu / 1e9:>9.2f}s {waiting / 1e9:>15.2f}s")
        return proc.returncode
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
