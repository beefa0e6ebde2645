"""A stand-in for the external ticket core (工单系统), run as its own process in tests and benches.

    python -m tests.standin.ticket_core --port 8765 --mode accept --db core.sqlite3 --secret s

It checks the HMAC signature (written here independently of `kb_service.outbox`, so a wire-format
slip on our side shows up), records each distinct `Idempotency-Key` once in a SQLite file
(synchronous=FULL: every commit is fsynced, so what it says it received survives a restart) and
counts repeated keys separately. Modes:

- accept      new key → 201; repeated key → 409 ("already have it")
- dup_accept  like accept, but a repeated key gets 200 again (the core "accepts it twice")
- fail500     always 500, records nothing
- flaky       500 on the first `--flaky-n` tries of each key, then like accept
- slow        a new key is recorded, then the answer is held `--slow-s` (longer than the client
              timeout), so the client sees a timeout although the core has the ticket
- refuse      listen on nothing: the process exits at once (the port stays closed)

`--delay-s` delays every answer (used to make a dispatcher slow enough to kill mid-batch).
GET /_received reports what arrived; POST /_mode {"mode": ...} switches behaviour at runtime.
`StandIn` below starts and stops the process for tests.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODES = ("accept", "dup_accept", "fail500", "flaky", "slow", "refuse")
REPO_ROOT = Path(__file__).resolve().parents[2]


class Core:
    """The stand-in's state: a SQLite file of received keys, tries and counters."""

    def __init__(
        self,
        db: Path,
        *,
        secret: str,
        mode: str,
        flaky_n: int,
        slow_s: float,
        delay_s: float,
        tolerance_s: int,
    ) -> None:
        self.secret = secret.encode()
        self.mode = mode
        self.flaky_n = flaky_n
        self.slow_s = slow_s
        self.delay_s = delay_s
        self.tolerance_s = tolerance_s
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(db, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS received (key TEXT PRIMARY KEY, body TEXT, at REAL);
            CREATE TABLE IF NOT EXISTS tries (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """
        )
        self.conn.commit()

    def _bump(self, name: str) -> None:
        self.conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (name,),
        )

    def signature_ok(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Independent check of `HMAC-SHA256(secret, "{ts}." + body)` and its freshness."""
        try:
            ts = int(timestamp)
        except ValueError:
            return False
        expected = hmac.new(self.secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - ts) <= self.tolerance_s
        return hmac.compare_digest(expected, signature) and fresh

    def receive(self, key: str, body: bytes) -> tuple[int, bool]:
        """Apply the mode to one request: (HTTP status, whether the key was new)."""
        with self.lock:
            self._bump("requests")
            self.conn.execute(
                "INSERT INTO tries (key, n) VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1",
                (key,),
            )
            (tries,) = self.conn.execute("SELECT n FROM tries WHERE key = ?", (key,)).fetchone()
            if self.mode == "fail500" or (self.mode == "flaky" and tries <= self.flaky_n):
                self.conn.commit()
                return 500, False
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO received (key, body, at) VALUES (?, ?, ?)",
                (key, body.decode("utf-8", "replace"), time.time()),
            )
            new = cur.rowcount == 1
            if not new:
                self._bump("duplicates")
            self.conn.commit()
        if new:
            return 201, True
        return (200 if self.mode == "dup_accept" else 409), False

    def bad_signature(self) -> None:
        """Count a request refused for its signature."""
        with self.lock:
            self._bump("bad_signatures")
            self.conn.commit()

    def report(self) -> dict[str, Any]:
        """What arrived so far."""
        with self.lock:
            keys = [k for (k,) in self.conn.execute("SELECT key FROM received ORDER BY at, key")]
            counters = dict(self.conn.execute("SELECT name, value FROM counters").fetchall())
        return {
            "mode": self.mode,
            "keys": keys,
            "distinct": len(keys),
            "duplicates": counters.get("duplicates", 0),
            "requests": counters.get("requests", 0),
            "bad_signatures": counters.get("bad_signatures", 0),
        }


def make_handler(core: Core) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `core`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real core would offer
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): exactly the case `slow` simulates

        def do_GET(self) -> None:
            if self.path == "/_received":
                self._reply(200, core.report())
            else:
                self._reply(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/_mode":
                opts = json.loads(body)
                core.mode = opts.get("mode", core.mode)
                core.flaky_n = int(opts.get("flaky_n", core.flaky_n))
                core.delay_s = float(opts.get("delay_s", core.delay_s))
                self._reply(200, {"mode": core.mode})
                return
            key = self.headers.get("Idempotency-Key")
            if not key:
                self._reply(400, {"error": "idempotency_key_missing"})
                return
            signed = core.signature_ok(
                body,
                self.headers.get("X-KB-Timestamp", ""),
                self.headers.get("X-KB-Signature", ""),
            )
            if not signed:
                core.bad_signature()
                self._reply(401, {"error": "signature_invalid"})
                return
            status, new = core.receive(key, body)
            if core.mode == "slow" and new:
                time.sleep(core.slow_s)
            if core.delay_s:
                time.sleep(core.delay_s)
            self._reply(status, {"key": key, "status": status})

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until killed."""
    p = argparse.ArgumentParser(description="ticket-core stand-in")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mode", choices=MODES, default="accept")
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--flaky-n", type=int, default=2)
    p.add_argument("--slow-s", type=float, default=2.0)
    p.add_argument("--delay-s", type=float, default=0.0)
    p.add_argument("--tolerance-s", type=int, default=300)
    args = p.parse_args(argv)
    if args.mode == "refuse":
        print("refuse: not listening", flush=True)
        return
    core = Core(
        args.db,
        secret=args.secret,
        mode=args.mode,
        flaky_n=args.flaky_n,
        slow_s=args.slow_s,
        delay_s=args.delay_s,
        tolerance_s=args.tolerance_s,
    )
    server = ThreadingHTTPServer((args.host, args.port), make_handler(core))
    server.daemon_threads = True
    print(f"ready on {args.host}:{args.port} mode={args.mode}", flush=True)
    server.serve_forever()


# --- launching it from tests ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class StandIn:
    """Starts the stand-in as a subprocess on `port`, and reads what it received."""

    def __init__(
        self, *, port: int, db: Path, secret: str, mode: str = "accept", **options: float
    ) -> None:
        self.port = port
        self.db = db
        self.secret = secret
        self.mode = mode
        self.options = options
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")

    @property
    def url(self) -> str:
        """Where the dispatcher should POST."""
        return f"http://127.0.0.1:{self.port}/tickets"

    def start(self, *, ready_timeout_s: float = 15.0) -> StandIn:
        """Start the process and wait (bounded) until it answers."""
        cmd = [
            sys.executable,
            "-m",
            "tests.standin.ticket_core",
            "--port",
            str(self.port),
            "--mode",
            self.mode,
            "--db",
            str(self.db),
            "--secret",
            self.secret,
        ]
        for name, value in self.options.items():
            cmd += [f"--{name.replace('_', '-')}", str(value)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stand-in exited: {self.log.read_text(errors='replace')}")
            try:
                self.received()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"stand-in not ready after {ready_timeout_s}s")

    def stop(self) -> None:
        """Terminate the process (kill it if it lingers)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def _call(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body)
        with urllib.request.urlopen(req, timeout=5) as resp:
            out: dict[str, Any] = json.loads(resp.read())
            return out

    def received(self) -> dict[str, Any]:
        """GET /_received."""
        return self._call("/_received")

    def set_mode(self, mode: str, **options: float) -> None:
        """Switch behaviour without restarting."""
        self._call("/_mode", {"mode": mode, **options})
        self.mode = mode

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["MODES", "Core", "StandIn", "free_port", "main"]

if __name__ == "__main__":
    main()
