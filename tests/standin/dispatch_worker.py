"""A dispatcher in its own process, for the crash test: it is killed with SIGKILL mid-batch.

python -m tests.standin.dispatch_worker --db-url URL --url CORE_URL --secret S
"""

from __future__ import annotations

import argparse
import time

from sqlmodel import Session

from kb_service import outbox
from kb_service.db import make_engine


def main(argv: list[str] | None = None) -> None:
    """Dispatch until nothing is pending (or until killed)."""
    p = argparse.ArgumentParser(description="outbox dispatcher worker")
    p.add_argument("--db-url", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--timeout-s", type=float, default=5.0)
    args = p.parse_args(argv)
    engine = make_engine(args.db_url)
    dispatcher = outbox.Dispatcher(
        engine, url=args.url, secret=args.secret, timeout_s=args.timeout_s, base_delay_s=0.01
    )
    print("dispatching", flush=True)
    while True:
        stats = dispatcher.run_once()
        with Session(engine) as session:
            if outbox.pending_count(session) == 0:
                break
        if stats.attempted == 0:
            time.sleep(0.01)  # everything left is waiting out its backoff
    print("done", flush=True)
    dispatcher.close()
    engine.dispose()


if __name__ == "__main__":
    main()
