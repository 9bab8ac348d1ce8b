"""HTTP load from `wrk` (the C load generator from Debian), so the figure is the server's and
not a Python client's competing for the same cores.

Each request carries a submission id of its own (run, wrk thread, counter) and a number of its
own (``{id}`` and ``{n8}`` in the template), so intake publishes every one as a new complaint
and no cache sees the same phone twice; ``done`` prints the summary as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SCRIPT = r"""
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local counter = 0
statuses = {}
function init(args)
  counter = 0
end

request = function()
  counter = counter + 1
  local n8 = string.format("%08d", (tid * 10000000 + counter) % 100000000)
  local body = TEMPLATE:gsub("{id}", RUN .. "-" .. tid .. "-" .. counter):gsub("{n8}", n8)
  return wrk.format("POST", PATH, HEADERS, body)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%d": %d', k, v)) end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, '
    .. '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, '
    .. '"p50_us": %d, "p99_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ", ")))
end
"""


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


@contextmanager
def _script_file(script: str) -> Iterator[Path]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
        f.write(script)
        f.flush()
        yield Path(f.name)


def available() -> bool:
    """Whether wrk is installed (the bootstrap installs it)."""
    return shutil.which("wrk") is not None


async def post_load(
    url: str,
    *,
    template: str,
    run: str,
    headers: dict[str, str],
    seconds: float,
    connections: int = 32,
    threads: int = 1,
) -> dict[str, Any]:
    """POST ``template`` to ``url`` for ``seconds``; ``{id}`` in it becomes a unique id per
    request, ``{n8}`` eight digits unique per request.

    Returns requests, rate, latency p50/p99 and the count of each status. ``threads`` defaults
    to one: on two cores, a second wrk thread takes CPU from the server it measures.
    """
    if not available():
        raise RuntimeError("wrk is not installed: run the bootstrap (apt package wrk)")
    path = "/" + url.split("/", 3)[3]
    pairs = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
    lua_headers = "{" + pairs + "}"
    script = (
        f"TEMPLATE = {_lua_string(template)}\nRUN = {_lua_string(run)}\n"
        f"PATH = {_lua_string(path)}\nHEADERS = {lua_headers}\n" + _SCRIPT
    )
    with _script_file(script) as script_path:
        proc = await asyncio.create_subprocess_exec(
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(script_path),
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    text = out.decode()
    line = next((ln for ln in text.splitlines() if ln.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text[-500:]} {err.decode()[-500:]}")
    doc = json.loads(line.removeprefix("WRK_JSON "))
    seconds_run = doc["duration_us"] / 1e6
    return {
        "requests": doc["requests"],
        "per_s": round(doc["requests"] / seconds_run),
        "p50_ms": round(doc["p50_us"] / 1000, 1),
        "p99_ms": round(doc["p99_us"] / 1000, 1),
        "statuses": {int(k): v for k, v in doc["statuses"].items()},
        "errors": {
            k.removeprefix("errors_"): v for k, v in doc.items() if k.startswith("errors_") and v
        },
    }
