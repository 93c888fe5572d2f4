"""A bounded, thread-safe history of serialised samples with consecutive sequence numbers.

Samples are stored as their JSON bytes: serialised once by the sampler, then sent to
any number of viewers as they are, and about ten times smaller than the dicts.
"""

from __future__ import annotations

import threading


class RingBuffer:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: list[bytes | None] = [None] * capacity
        self._next_seq = 1  # the seq the next append gets
        self._lock = threading.Lock()

    def append(self, make_item) -> int:
        """Store make_item(seq) under the next sequence number; return that number."""
        with self._lock:
            seq = self._next_seq
            self._items[seq % self.capacity] = make_item(seq)
            self._next_seq += 1
            return seq

    @property
    def first_seq(self) -> int:
        """The oldest sequence number still held (last_seq + 1 when empty)."""
        return max(1, self._next_seq - self.capacity)

    @property
    def last_seq(self) -> int:
        """The newest sequence number (0 when nothing has been stored)."""
        return self._next_seq - 1

    def __len__(self) -> int:
        return self.last_seq - self.first_seq + 1

    def since(self, seq: int = 0) -> list[bytes]:
        """Every held item with a sequence number greater than seq, oldest first."""
        with self._lock:
            first = max(seq + 1, self.first_seq)
            return [self._items[s % self.capacity] for s in range(first, self._next_seq)]  # type: ignore[misc]
