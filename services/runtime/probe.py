"""``python -m services.runtime.probe [--ready] PORT [PATH]``: exit 0 when the service answers 200.

The container health check (the slim image has no curl). ``--ready`` probes ``/readyz``
(migrations done, database and broker reachable, consumers assigned) instead of ``/healthz``
(the process is alive).
"""

import sys
import urllib.request


def main(argv: list[str]) -> int:
    """Probe ``http://127.0.0.1:PORT/PATH`` (default ``/healthz``; ``/readyz`` with --ready)."""
    ready = "--ready" in argv
    args = [a for a in argv if a != "--ready"]
    port = int(args[0])
    path = args[1] if len(args) > 1 else ("/readyz" if ready else "/healthz")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:  # includes HTTPError: a 503 from /readyz
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
