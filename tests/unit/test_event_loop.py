"""``serve --event-loop``: uvloop's loop when it is installed (auto) or asked for, asyncio's own
otherwise; asking for uvloop without it installed is a usage failure naming the extra. And the
collector, once the service has started."""

from __future__ import annotations

import sys

import pytest

from stopay.cli.exits import Failure
from stopay.cli.main import build_parser
from stopay.cli.serve import loop_factory


def test_asyncio_is_asyncios_own_loop() -> None:
    assert loop_factory("asyncio") is None


def test_auto_and_uvloop_take_uvloop_when_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop


def test_without_uvloop_auto_is_asyncio_and_uvloop_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert loop_factory("auto") is None
    with pytest.raises(Failure, match=r"pip install 'stopay\[uvloop\]'"):
        loop_factory("uvloop")


def test_the_flag_defaults_to_auto_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_parser().parse_args(["serve", "--insecure"]).event_loop == "auto"
    monkeypatch.setenv("STOPAY_EVENT_LOOP", "asyncio")
    assert build_parser().parse_args(["serve", "--insecure"]).event_loop == "asyncio"


def test_once_started_the_collector_leaves_what_the_service_built_alone() -> None:
    import gc

    from stopay.cli.serve import settle_garbage_collector

    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_count()[0] == 0  # collected first: nothing left pending
    finally:
        gc.unfreeze()
