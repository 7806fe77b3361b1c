"""Who a process is, from ``/proc``: its kernel start time, its command line, the loopback ports it listens on.

A recorded pid alone proves nothing once its process is gone: the kernel reuses pids. A pid together with the
kernel start time it had (``/proc/<pid>/stat`` field 22) names one process for good, so a record of both is
never mistaken for a stranger that got the same pid. Linux only.
"""

from __future__ import annotations

import os
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def process_start_time(pid: int) -> int | None:
    """The kernel start time of a running process; None if there is none or it is a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return None if fields[0] in ("Z", "X") else int(fields[19])


def command_line(pid: int) -> list[str]:
    """The process's arguments (empty if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def listens_on(pid: int, port: int) -> bool:
    """Whether ``pid`` holds the socket listening on 127.0.0.1:``port`` (a stranger on the port does not)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, PermissionError):
        return False
    for descriptor in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the IPv4 sockets listening on 127.0.0.1:``port`` (or on every address)."""
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    found = set()
    with open("/proc/net/tcp", encoding="ascii") as table:
        next(table)  # the header
        for line in table:
            columns = line.split()
            if columns[1] in wanted and columns[3] == _LISTEN:
                found.add(columns[9])
    return found
