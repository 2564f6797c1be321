"""Escaping for GitHub-flavoured markdown: live and manifest values made inert in a comment or
an issue body. Shared by the plan and drift markdown (and through them the job summary).

Every value that comes from the account or the manifests (group names, rate plans, custom
field text, problem messages quoting them) can hold anything a custom field can: ``|`` would
split a table cell, ``</details><!--`` would close the collapsible block and hide the rest of
the issue, a backtick would open a code span, and ``@everyone`` or ``@user`` would notify
people. The escapes, and why each is the chosen one:

- ``\\`` ``*`` ``_`` ``[`` ``]`` ``|``: backslash escapes (markdown shows the character; ``\\|`` is
  GFM's escape for a pipe inside a table cell);
- ``&`` ``<`` ``>``: HTML entities, so no tag or comment can open (``&`` first, so an entity in
  the value shows as typed);
- a backtick: the entity ``&#96;`` (shows a backtick, opens no code span);
- ``@``: followed by a zero-width space (U+200B), which GitHub does not read as a mention;
- line breaks: a space (a cell or list item is one line).

`escape_html` is for text inside an HTML block (``<summary>``), where markdown escapes would
show their backslashes. `code_span` is for identifiers shown as code (ICCIDs, endpoints, file
places): GitHub resolves neither HTML nor mentions inside a code span, so only the fence and
the line need care.
"""

from __future__ import annotations

ZERO_WIDTH_SPACE = "\u200b"

_MARKDOWN = {
    "\\": "\\\\",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "\\|",
    "`": "&#96;",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "@": "@" + ZERO_WIDTH_SPACE,
    "\r": " ",
    "\n": " ",
}
_HTML = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "@": "@" + ZERO_WIDTH_SPACE,
    "\r": " ",
    "\n": " ",
}
_MARKDOWN_TABLE = str.maketrans(_MARKDOWN)
_HTML_TABLE = str.maketrans(_HTML)


def escape_markdown(text: str) -> str:
    """``text`` as inert inline markdown: safe in a paragraph, a list item or a table cell."""
    return text.translate(_MARKDOWN_TABLE)


def escape_html(text: str) -> str:
    """``text`` as inert text inside an HTML block such as ``<summary>``."""
    return text.translate(_HTML_TABLE)


def code_span(text: str, *, in_table: bool = False) -> str:
    """``text`` as one inline code span whatever it holds.

    The fence is one backtick longer than the longest run of backticks inside (CommonMark's
    rule), padded with spaces when the text starts or ends with a backtick. In a table cell a
    pipe must still be escaped, code span or not (GFM splits cells first).
    """
    text = text.replace("\r", " ").replace("\n", " ")
    if in_table:
        text = text.replace("|", "\\|")
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


__all__ = ["ZERO_WIDTH_SPACE", "code_span", "escape_html", "escape_markdown"]
