"""What the push receiver recorded, read back for apply's rollout checks.

The receiver appends one line per SIM found out of line with git to ``drift.jsonl`` in the
state directory (`reconciler.webhook.sink`). During a rollout soak, apply reads the lines
about the rollout step's SIMs recorded since the soak began (`reconciler.rollout.SimEvent`).
A missing file means no receiver ran: no events. A line that does not parse (a torn write)
is skipped, the receiver's record of it being an audit aid, not apply's input of record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from reconciler.errors import JournalError
from reconciler.rollout import SimEvent

DRIFT_LOG = "drift.jsonl"


def _epoch(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class DriftLog:
    """``drift.jsonl`` of a state directory, as an `reconciler.rollout.EventFeed`."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / DRIFT_LOG

    def events(self, iccids: frozenset[str], since: float) -> Sequence[SimEvent]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        found: list[SimEvent] = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict) or record.get("iccid") not in iccids:
                continue
            at = _epoch(record.get("detectedAt"))
            if at is None or at < since:
                continue
            fields = record.get("fields")
            found.append(
                SimEvent(
                    iccid=str(record["iccid"]),
                    at=at,
                    kind=str(record.get("kind", "drift")),
                    status=record.get("status") if isinstance(record.get("status"), str) else None,
                    fields=tuple(
                        str(f.get("field"))
                        for f in (fields if isinstance(fields, list) else [])
                        if isinstance(f, dict) and f.get("field")
                    ),
                    message=record.get("message")
                    if isinstance(record.get("message"), str)
                    else None,
                )
            )
        return found
