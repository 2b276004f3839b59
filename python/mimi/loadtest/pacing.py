"""What a load run sends and when (pure: no Ray, no clock of its own).

Each message's text starts with `MIMILOAD <sequence> <send time>` (CLOCK_MONOTONIC,
ns, shared by every process of the machine), so a receiving host times
send→decrypt from the plaintext it decrypted, with no clock of the sender's.
"""

from __future__ import annotations

from dataclasses import dataclass

MARKER = b"MIMILOAD "


def load_text(sequence: int, sent_ns: int, size: int) -> str:
    """A message text of `size` bytes that carries its sequence and send time."""
    head = f"{MARKER.decode()}{sequence} {sent_ns} "
    return head + "x" * max(0, size - len(head))


def marker_of(plaintext: bytes) -> tuple[int, int] | None:
    """(sequence, send time in ns) embedded by `load_text`, found in a decrypted MIMI content."""
    at = plaintext.find(MARKER)
    if at < 0:
        return None
    fields = plaintext[at + len(MARKER) : at + len(MARKER) + 48].split(b" ", 2)
    return int(fields[0]), int(fields[1])


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a run's messages go out, from `start_ns`.

    Open loop (`rate` messages per second): message `i` is due at `start_ns + i / rate`,
    `rate × duration` in all, and carries that time, so a late sender shows as
    latency. Closed loop (`rate` None): as many as the window allows until
    `duration` ends, each carrying the time it was made. An open-loop sender still
    behind `late` seconds after `duration` stops: it sent fewer than offered.
    """

    start_ns: int
    rate: float | None
    duration: float
    late: float = 0.0

    @property
    def total(self) -> int | None:
        """Messages offered (open loop); None in a closed loop."""
        return None if self.rate is None else int(self.rate * self.duration)

    def over(self, issued: int, now_ns: int) -> bool:
        """Whether sending has ended, `issued` messages made by `now_ns`."""
        total = self.total
        if total is None:
            return now_ns >= self.start_ns + int(self.duration * 1e9)
        return issued >= total or now_ns >= self.start_ns + int((self.duration + self.late) * 1e9)

    def due(self, issued: int, now_ns: int, free: int) -> int:
        """How many messages to make now, with `free` places left in the window."""
        if free <= 0 or self.over(issued, now_ns):
            return 0
        total = self.total
        if self.rate is None or total is None:
            return free
        due = min(total, int((now_ns - self.start_ns) * self.rate / 1e9) + 1)
        return max(0, min(due - issued, free))

    def stamp(self, i: int, now_ns: int) -> int:
        """The send time message `i`, made at `now_ns`, carries."""
        return now_ns if self.rate is None else self.start_ns + int(i * 1e9 / self.rate)

    def wait(self, issued: int, now_ns: int) -> float:
        """Seconds until message `issued` is due (0 in a closed loop, or when it is late)."""
        if self.rate is None:
            return 0.0
        return max(0.0, (self.stamp(issued, now_ns) - now_ns) / 1e9)
