"""The markdown escaping shared by plan and drift markdown."""

from __future__ import annotations

from reconciler.render.markdown_escape import code_span, escape_html, escape_markdown


def test_escape_markdown_makes_html_tables_code_and_mentions_inert() -> None:
    assert escape_markdown("a|b") == "a\\|b"
    assert escape_markdown("</details><!--") == "&lt;/details&gt;&lt;!--"
    assert escape_markdown("&lt;") == "&amp;lt;"  # an entity in the value shows as typed
    assert escape_markdown("`x`") == "&#96;x&#96;"
    assert escape_markdown("@everyone and @user") == "@\u200beveryone and @\u200buser"
    assert escape_markdown("*a* _b_ [c](d) \\") == "\\*a\\* \\_b\\_ \\[c\\](d) \\\\"
    assert escape_markdown("two\nlines\r") == "two lines "


def test_escape_html_for_summary_blocks() -> None:
    assert escape_html("IoT_5GB <b> @x") == "IoT_5GB &lt;b&gt; @\u200bx"


def test_code_span_holds_any_text() -> None:
    assert code_span("8944") == "`8944`"
    assert code_span("a`b") == "``a`b``"
    assert code_span("`a") == "`` `a ``"
    assert code_span("a|b", in_table=True) == "`a\\|b`"
    assert code_span("a\nb") == "`a b`"
