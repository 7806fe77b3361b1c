"""An aiohttp app served on a free 127.0.0.1 port from an event loop on a background thread, as the local
host serves its HTTP gateway: the loop becomes the worker pool's, where async functions run."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from funchost.worker_pool import WorkerPool

WAIT = 20.0  # seconds to wait for the server to stop before a test fails


@contextmanager
def served(app: web.Application, worker: WorkerPool) -> Iterator[str]:
    """Serve ``app`` until the block ends; yield its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    worker.loop = loop
    thread = threading.Thread(target=loop.run_forever, name="http-gateway", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=WAIT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=WAIT)
        loop.close()
