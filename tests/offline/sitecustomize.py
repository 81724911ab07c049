"""Refuse every network connection of this Python process (the course runs offline).

The test plugin (``tests/nbval_settings.py``) puts this folder on ``PYTHONPATH``,
so Python runs this file at start-up in the test process and in every notebook
kernel it starts. A connection attempt raises :class:`NetworkRefused` — a
``BaseException``, so ``except Exception`` cannot hide it — and is written to the
file named by ``COURSE_NETWORK_LOG``, which the plugin reads after each cell.
Local (Unix-domain) sockets are allowed: they never leave the machine.
"""

import os
import socket


class NetworkRefused(BaseException):
    """A cell tried to open a network connection; the course must run offline."""


LOCAL = getattr(socket, "AF_UNIX", None)  # Windows has no AF_UNIX in some versions


def _refuse(address: object) -> None:
    message = f"the course runs offline, but this code tried to connect to {address!r}"
    log = os.environ.get("COURSE_NETWORK_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(message + "\n")
    raise NetworkRefused(message)


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family == LOCAL:
        return _connect(self, address)
    _refuse(address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family == LOCAL:
        return _connect_ex(self, address)
    _refuse(address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
