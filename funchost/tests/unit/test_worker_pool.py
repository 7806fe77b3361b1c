"""The Python worker's thread pool size, PYTHON_THREADPOOL_THREAD_COUNT, read as the worker reads it.

The worker for Python 3.11 (``Dispatcher._get_sync_tp_max_workers``, azure_functions_worker/dispatcher.py of
Azure/azure-functions-python-worker) and the worker library azure-functions-runtime 1.3.0
(``utils/threadpool._get_max_workers``) take an integer of at least 1; anything else is warned about and
ignored, and the pool gets ``max_workers=None``: Python's default size. The library's own function is run
here on the same values.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from funchost.worker_pool import PYTHON_THREADPOOL_THREAD_COUNT, WorkerPool, thread_count

VALUES = [None, "1", "4", " 8 ", "+3", "1000", "0", "-2", "abc", "4.0", "", "2 threads"]


@pytest.mark.parametrize("value", VALUES)
def test_the_thread_count_is_what_the_worker_library_takes_from_the_setting(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    threadpool = pytest.importorskip("azure_functions_runtime.utils.threadpool")
    if value is None:
        monkeypatch.delenv(PYTHON_THREADPOOL_THREAD_COUNT, raising=False)
    else:
        monkeypatch.setenv(PYTHON_THREADPOOL_THREAD_COUNT, value)
    settings = {} if value is None else {PYTHON_THREADPOOL_THREAD_COUNT: value}
    assert thread_count(settings) == threadpool._get_max_workers()


def test_a_count_that_is_not_an_integer_is_ignored_with_the_workers_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="funchost.host"):
        assert thread_count({PYTHON_THREADPOOL_THREAD_COUNT: "four"}) is None
    assert caplog.messages == ["PYTHON_THREADPOOL_THREAD_COUNT must be an integer"]


def test_a_count_below_1_is_ignored_with_the_workers_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="funchost.host"):
        assert thread_count({PYTHON_THREADPOOL_THREAD_COUNT: "0"}) is None
    assert caplog.messages == [
        "PYTHON_THREADPOOL_THREAD_COUNT must be set to a value between 1 and sys.maxint. "
        "Reverting to default value for max_workers"
    ]


def test_without_the_setting_the_pool_has_pythons_default_size() -> None:
    assert WorkerPool.from_app_settings({}).max_workers == ThreadPoolExecutor()._max_workers


def test_the_setting_sizes_the_pool() -> None:
    assert WorkerPool.from_app_settings({PYTHON_THREADPOOL_THREAD_COUNT: "3"}).max_workers == 3
