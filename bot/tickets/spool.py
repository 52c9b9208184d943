"""Reports confirmed while the ticket database was unreachable, kept on local disk until it is back.

The resident confirmed a report; losing it because PostgreSQL restarted would be the worst answer.
The action server writes the request here (one JSON file each, written atomically, readable by this
user only: it holds a phone number) and tells the resident the number will follow. A replay loop in
the same action server files each one once the database answers again — through the ordinary
idempotent ``open_ticket``, so a report that did reach the database before the error is not doubled —
and queues a message with the case number to the resident through the outbox.

Several workers may share the directory: a file is claimed by renaming it, which only one can do.
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


def default_directory() -> Path:
    explicit = os.environ.get("FILING_SPOOL_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("VAR_DIR", "var")) / "spool" / "filings"


@dataclass
class ReplayReport:
    filed: List[str]
    rejected: int
    remaining: int
    error: Optional[str] = None


class FilingSpool:
    def __init__(self, directory: Optional[Path] = None) -> None:
        self.directory = Path(directory) if directory else default_directory()

    def put(self, request: Dict[str, Any]) -> Path:
        """Keep one filing request durably; returns its file."""
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

    def replay(self, file: Callable[[Dict[str, Any]], str]) -> ReplayReport:
        """File every kept request, oldest first, with ``file(request) -> case number``.

        Stops at the first failure that is not the request's own fault (the database is still
        down): that request and the rest stay queued for the next round. A request the service
        refuses as invalid (ValueError) is set aside as ``.rejected`` and logged, never retried.
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
                number = file(request)
            except ValueError as bad:  # includes JSON errors: retrying cannot help
                os.rename(claimed, path.with_name(path.name + REJECTED))
                log.error("spooled filing %s rejected: %s", path.name, bad)
                rejected += 1
                continue
            except Exception as failure:  # still unavailable: put it back, try again later
                os.rename(claimed, path)
                error = f"{type(failure).__name__}: {failure}"
                break
            claimed.unlink()
            filed.append(number)
            log.info("spooled filing %s filed as %s", path.name, number)
        return ReplayReport(filed=filed, rejected=rejected, remaining=self.pending(), error=error)
