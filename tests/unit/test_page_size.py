"""One page size on the client side: the planner's read cost uses the wire's page size."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.planner import cost
from reconciler.smarthub import wire

ROOT = Path(__file__).resolve().parents[2]


def test_the_planner_counts_pages_of_the_size_the_client_asks_for() -> None:
    assert cost.PAGE_SIZE is wire.PAGE_SIZE
    assert cost.check_reads(sims=10_000, account_size=wire.PAGE_SIZE * 7) == 7
    assert cost.check_reads(sims=3, account_size=wire.PAGE_SIZE * 7) == 3


def test_no_second_page_size_constant_outside_the_simulator() -> None:
    pattern = re.compile(r"^\s*\w*PAGE\w*\s*(?::[^=]+)?=\s*\d", re.MULTILINE)
    defined = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "reconciler").rglob("*.py")
        if "simulator" not in path.parts and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert defined == ["reconciler/smarthub/wire.py"]
