"""Ports of a sandboxed system (``deploy.local.sandbox.free_port``) and whose health check
answered (``deploy.local.stack.healthy``).

A system's ports are chosen together and bound only when each service starts. A bench run
once handed a copy started in between (intake's consuming copy) the port chosen for reporting:
reporting could not bind it, and its health check was answered by intake."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from deploy.local import sandbox, stack


class _Socket:
    """A socket whose ``bind`` to port 0 gets the next port of a script."""

    def __init__(self, ports: Iterator[int]) -> None:
        self._ports = ports
        self._port = 0

    def __enter__(self) -> _Socket:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def bind(self, _address: tuple[str, int]) -> None:
        self._port = next(self._ports)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self._port)


def test_a_port_is_never_handed_out_twice_even_when_the_system_offers_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the kernel offers a port again once nobody listens on it: 41001 twice here
    offered = iter([41001, 41001, 41002, 41001, 41003])
    monkeypatch.setattr(sandbox, "_HANDED_OUT", set())
    monkeypatch.setattr(sandbox.socket, "socket", lambda: _Socket(offered))
    assert [sandbox.free_port() for _ in range(3)] == [41001, 41002, 41003]


def test_free_ports_are_free_and_distinct() -> None:
    ports = [sandbox.free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nobody listens on it


@pytest.fixture
def intake_answering() -> Iterator[int]:
    """A process on a port that answers ``/healthz`` as intake does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "service": "intake"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_health_check_counts_only_the_service_it_waits_for(intake_answering: int) -> None:
    port = intake_answering
    assert stack.healthy(port)  # something answers
    assert stack.healthy(port, service="intake")
    assert not stack.healthy(port, service="reporting")  # not the service it waits for


def test_waiting_for_a_service_another_one_answers_for_fails(
    intake_answering: int, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit, match="reporting"):
        stack.wait_healthy(
            {"reporting": intake_answering},
            timeout=1,
            logs=tmp_path,
            services={"reporting": "reporting"},
        )
    stack.wait_healthy(
        {"intake": intake_answering},
        timeout=5,
        logs=tmp_path,
        services={"intake": "intake"},
    )
