"""Sample the operator with py-spy while a scenario runs, and summarise where its CPU time goes.

``py-spy record --format raw`` writes collapsed stacks (one line per distinct stack, with its sample count);
the summary gives, per function, the share of samples it was on the stack (inclusive) and at the top (self), and
the share per library (the package of the innermost frame inside site-packages, or keyfob / stdlib module).
Idle threads are not sampled (py-spy's default), so shares are of the time the operator was on a CPU.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def available() -> bool:
    return shutil.which("py-spy") is not None


@contextlib.contextmanager
def sampling(pid: int, out: Path, rate: int = 50) -> Iterator[Path]:
    """py-spy on ``pid`` for the duration of the block (it stops on SIGINT and writes ``out``)."""
    proc = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nonblocking",
         "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        yield out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _short(path: str) -> str:
    for marker in ("site-packages/", "/operator/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                path = "stdlib/" + path.split("/", 1)[1]
            break
    return path


def _library(path: str) -> str:
    short = _short(path)
    if short.startswith("stdlib/"):
        return "stdlib:" + short.split("/")[1].removesuffix(".py")
    return short.split("/")[0].removesuffix(".py")


def summarize(raw: Path, top: int = 30) -> dict[str, Any]:
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    keyfob_inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for part in stack.split(";"):
            match = _FRAME.match(part.strip())
            if match:
                frames.append((match["func"], match["file"], match["line"]))
        if not frames:
            continue
        seen: set[str] = set()
        seen_kf: set[str] = set()
        for func, file, _line in frames:
            key = f"{func} ({_short(file)})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += count
            if "keyfob/" in file and "testbed" not in file and key not in seen_kf:
                seen_kf.add(key)
                keyfob_inclusive[key] += count
        func, file, lineno = frames[-1]
        self_time[f"{func} ({_short(file)}:{lineno})"] += count
        libraries[_library(file)] += count

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in counter.most_common(n)] if total else []

    return {
        "samples": total,
        "by_library_self_pct": share(libraries, 20),
        "inclusive_pct": share(inclusive, top),
        "self_pct": share(self_time, top),
        "keyfob_inclusive_pct": share(keyfob_inclusive, 20),
    }
