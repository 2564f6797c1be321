"""How an answer is dressed: problem documents, ``X-RateLimit-*`` headers, dropped connections."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse, Response

from reconciler.simulator.problems import Problem
from reconciler.simulator.store import RateState


class Dropped(Exception):
    """The connection was closed on purpose; nothing may be sent."""


def problem_response(problem: Problem, headers: Mapping[str, str]) -> Response:
    merged = {**headers, **problem.headers}
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        headers=merged,
        media_type="application/problem+json",
    )


def rate_headers(state: RateState | None, limit: int, window: float) -> dict[str, str]:
    """The ``X-RateLimit-*`` headers; with no account to charge, an untouched window."""
    if state is None:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit),
            "X-RateLimit-Reset": str(int(window)),
        }
    return {
        "X-RateLimit-Limit": str(state.limit),
        "X-RateLimit-Remaining": str(state.remaining),
        "X-RateLimit-Reset": str(state.reset),
    }
