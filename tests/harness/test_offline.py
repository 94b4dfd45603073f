"""The suite runs offline: outbound connections fail, loopback works, subprocesses are guarded."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_outbound_connection_is_blocked() -> None:
    with pytest.raises(OSError, match="network access blocked"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=2)
    client.close()
    server.close()


def test_subprocesses_are_guarded_too() -> None:
    code = "import socket\ntry:\n    socket.create_connection(('10.1.2.3', 443), timeout=1)\nexcept OSError as e:\n    print(e)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert "network access blocked" in result.stdout
