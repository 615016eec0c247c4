"""Files a run must not lose: atomic writes, their leftovers, and checking a folder before a run.

An atomic write goes to a temporary file beside the target and is renamed over it::

    run.pt  ◀── rename ──  .run.pt.tmp-HOST-PID-RANDOM.pt   (written in full first)

A reader sees the old file or the new one, never half of one. A process killed
during the write (kill -9, power cut) leaves the temporary file behind; its name
says which machine and process wrote it, so a later run removes it once that
process is gone (``remove_stale_temporaries``), and never touches a file of a
process that may still be writing, of another machine, or of another program.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["write_atomically", "temporary_prefix", "remove_stale_temporaries", "check_writable_folder"]


def temporary_prefix(path: Path, pid: int | None = None) -> str:
    """The name every temporary file of ``path`` written by process ``pid`` (default: this one) starts with."""
    host = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())
    return f".{path.name}.tmp-{host}-{os.getpid() if pid is None else pid}-"


def write_atomically(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    A reader never sees a half-written file, and a failed write leaves the old file
    (if any) untouched and no temporary file. The temporary file sits next to
    ``path`` (a rename within one folder is atomic) and keeps its suffix (numpy
    appends ``.npz`` otherwise).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        umask = os.umask(0)  # mkstemp makes the file private; give it the permissions open() would
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that interrupted writes of ``path`` left behind; return them.

    Only files named by ``write_atomically`` for this very ``path`` on this machine,
    regular files (not links) owned by this user, whose writing process no longer
    exists. Anything else is left alone.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    host_prefix = temporary_prefix(path, pid=0)[: -len("0-")]
    pattern = re.compile(re.escape(host_prefix) + r"(\d+)-[A-Za-z0-9_]+" + re.escape(path.suffix) + r"\Z")
    removed = []
    for candidate in path.parent.iterdir():
        match = pattern.match(candidate.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            info = candidate.lstat()
        except FileNotFoundError:  # another run removed it first
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or pid == os.getpid() or not _process_is_gone(pid):
            continue
        try:
            candidate.unlink()
        except FileNotFoundError:
            continue
        removed.append(candidate)
    return removed


def check_writable_folder(path: str | os.PathLike) -> None:
    """Raise ``OSError`` unless a file can be created in ``path``'s folder.

    Tries it: creates a temporary file there and removes it. Permission bits alone do
    not tell (root ignores them; a read-only mount or a full quota does not show in them).
    """
    path = Path(path)
    handle, probe = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=path.suffix)
    os.close(handle)
    os.remove(probe)
