"""Process liveness, shared by the local broker and the store launchers."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Does a process with this pid exist (signal 0; another user's process counts)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
