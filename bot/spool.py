"""Work that could not be done because a database was unreachable, kept on local disk until it is back.

Two users: the action server keeps reports the resident confirmed while the ticket database was down
(``filings``: replayed through the idempotent ``open_ticket``, the number then sent to the resident),
and the Rasa server keeps messages that arrived while the tracker store was down (``inbound``:
written into the conversation once it is back). One JSON file per item, written atomically, readable
by this user only (they hold residents' words and phone numbers).

Several workers may share a directory: a file is claimed by renaming it, which only one can do.
"""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

log = logging.getLogger(__name__)

SUFFIX = ".json"
CLAIMED = ".claimed"
REJECTED = ".rejected"
# A claim older than this belongs to a worker that died mid-replay; the file goes back in the queue.
STALE_CLAIM_SECONDS = 600


def spool_directory(kind: str) -> Path:
    """``$SPOOL_DIR/<kind>``; by default under VAR_DIR. Keep it on local disk of the host that writes it."""
    base = os.environ.get("SPOOL_DIR") or str(Path(os.environ.get("VAR_DIR", "var")) / "spool")
    return Path(base) / kind


@dataclass
class ReplayReport:
    filed: List[str]
    rejected: int
    remaining: int
    error: Optional[str] = None


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def put(self, request: Dict[str, Any]) -> Path:
        """Keep one item durably; returns its file."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        final = self.directory / f"{name}{SUFFIX}"
        partial = self.directory / f".{name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(request, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(partial, final)  # atomic: a reader sees the whole request or nothing
        return final

    def pending(self) -> int:
        return len(self._queued())

    def _queued(self) -> List[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX))

    def _release_stale_claims(self) -> None:
        if not self.directory.is_dir():
            return
        for claimed in self.directory.glob(f"*{CLAIMED}"):
            try:
                if time.time() - claimed.stat().st_mtime > STALE_CLAIM_SECONDS:
                    os.rename(claimed, claimed.with_name(claimed.name.split(SUFFIX)[0] + SUFFIX))
            except FileNotFoundError:
                pass

    def replay(self, handle: Callable[[Dict[str, Any]], str]) -> ReplayReport:
        """Hand every kept item, oldest first, to ``handle(item) -> what it became`` (a case number…).

        Stops at the first failure that is not the item's own fault (the database is still down):
        that item and the rest stay queued for the next round. An item refused as invalid
        (ValueError) is set aside as ``.rejected`` and logged, never retried.
        """
        self._release_stale_claims()
        filed, rejected, error = [], 0, None
        for path in self._queued():
            claimed = path.with_name(f"{path.name}.{os.getpid()}{CLAIMED}")
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another worker took it
            try:
                request = json.loads(claimed.read_text(encoding="utf-8"))
                number = handle(request)
            except ValueError as bad:  # includes JSON errors: retrying cannot help
                os.rename(claimed, path.with_name(path.name + REJECTED))
                log.error("spooled item %s rejected: %s", path.name, bad)
                rejected += 1
                continue
            except Exception as failure:  # still unavailable: put it back, try again later
                os.rename(claimed, path)
                error = f"{type(failure).__name__}: {failure}"
                break
            claimed.unlink()
            filed.append(number)
            log.info("spooled item %s done: %s", path.name, number)
        return ReplayReport(filed=filed, rejected=rejected, remaining=self.pending(), error=error)
