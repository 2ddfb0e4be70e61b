"""Server-sent events to the station's screens: the latest message of each kind is kept, so a screen
that connects (or reloads) is shown the present at once, then every change as it comes."""

from __future__ import annotations

import asyncio
import json

CLOSED = ("", "")  # the end of a screen's stream
QUEUE = 64  # a screen that falls this far behind is sent the latest state instead of every step


class Hub:
    def __init__(self) -> None:
        self._latest: dict[str, str] = {}
        self._screens: set[asyncio.Queue[tuple[str, str]]] = set()

    def publish(self, kind: str, data: object) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        self._latest[kind] = text
        for queue in self._screens:
            if queue.full():  # drop the backlog: the latest of each kind is all a screen needs
                while not queue.empty():
                    queue.get_nowait()
                for item in self._latest.items():
                    queue.put_nowait(item)
            else:
                queue.put_nowait((kind, text))

    def forget(self, kind: str) -> None:
        self._latest.pop(kind, None)

    def subscribe(self) -> asyncio.Queue[tuple[str, str]]:
        """A screen's queue: the latest of every kind first, then each message as it is published."""
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE)
        for item in self._latest.items():
            queue.put_nowait(item)
        self._screens.add(queue)
        return queue

    def close(self) -> None:
        """Ends every screen's stream (the server is stopping): each queue is sent ``("", "")``."""
        for queue in self._screens:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(CLOSED)

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, str]]) -> None:
        self._screens.discard(queue)

    @property
    def screens(self) -> int:
        return len(self._screens)
