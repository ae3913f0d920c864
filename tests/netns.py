"""Hosts for multi-host tests: Linux network namespaces on this machine, joined by one bridge.

``NetworkHosts`` makes a hub namespace with a bridge (``10.77.0.1``) and one namespace
per host with a veth to the bridge (``10.77.0.11``, ``.12``, ...), each with its own
loopback. Nothing leaves them: no route to the machine's own interfaces. The test
process enters the hub (``inside``) to start the broker there and to talk to the
hosts; a host's processes run under ``ip netns exec`` (``wrapper``). Needs root
(CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2, as CI has.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
SUBNET = "10.77.0"
HUB_ADDRESS = f"{SUBNET}.1"

_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args: str) -> None:
    ip = shutil.which("ip")
    assert ip, "iproute2's `ip` not found: install Debian's iproute2 (multi-host tests make network namespaces)"
    done = subprocess.run([ip, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()} "
                           "(multi-host tests need root: CAP_SYS_ADMIN and CAP_NET_ADMIN)")


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


class NetworkHosts:
    def __init__(self, count: int):
        tag = uuid.uuid4().hex[:6]
        self.hub = f"tl{tag}-hub"
        self.hosts = [f"tl{tag}-h{i}" for i in range(1, count + 1)]
        self.addresses = [f"{SUBNET}.{10 + i}" for i in range(1, count + 1)]
        self._made: list[str] = []
        try:
            self._make(tag)
        except Exception:
            self.remove()
            raise

    def _make(self, tag: str) -> None:
        for ns in (self.hub, *self.hosts):
            _ip("netns", "add", ns)
            self._made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "addr", "add", f"{HUB_ADDRESS}/24", "dev", "br0")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for i, (ns, address) in enumerate(zip(self.hosts, self.addresses), start=1):
            port = f"v{tag}{i}"  # the hub's end (interface names: 15 characters at most)
            _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("-n", self.hub, "link", "set", port, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def wrapper(self, index: int) -> tuple[str, ...]:
        """The command prefix that runs a program on host ``index`` (0-based)."""
        return (shutil.which("ip") or "ip", "netns", "exec", self.hosts[index])

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """Run this thread (and the threads and processes it starts) in the hub namespace."""
        own = f"/proc/self/task/{threading.get_native_id()}/ns/net"
        back = os.open(own, os.O_RDONLY)
        try:
            _setns(f"/var/run/netns/{self.hub}")
            try:
                yield
            finally:
                if _libc.setns(back, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "could not return to the test's own network namespace")
        finally:
            os.close(back)

    def remove(self) -> None:
        for ns in reversed(self._made):
            with contextlib.suppress(RuntimeError):
                _ip("netns", "del", ns)
        self._made.clear()
