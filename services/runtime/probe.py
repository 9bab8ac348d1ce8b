"""``python -m services.runtime.probe PORT [PATH]``: exit 0 when the service answers 200.

The container health check (the slim image has no curl).
"""

import sys
import urllib.request


def main(argv: list[str]) -> int:
    """Probe ``http://127.0.0.1:PORT/PATH`` (default ``/healthz``)."""
    port = int(argv[0])
    path = argv[1] if len(argv) > 1 else "/healthz"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
