"""Safe YAML reading: plain values, the place of every value, hostile input refused."""

from __future__ import annotations

from reconciler.manifest.documents import format_path, read_documents


def test_values_and_marks() -> None:
    parsed = read_documents(b"a: 1\nb:\n  - x\n  - {c: d}\n", "f.yaml")
    assert parsed.complete and parsed.problems == []
    (doc,) = parsed.documents
    assert doc.value == {"a": 1, "b": ["x", {"c": "d"}]}
    assert doc.marks[("a",)] == (1, 4)  # a scalar: where the value is
    assert doc.marks[("b",)] == (2, 1)  # a collection under a key: where the key is
    assert doc.marks[("b", 1, "c")] == (4, 9)
    assert doc.key_marks[("b", 1, "c")] == (4, 6)
    assert doc.mark(("b", 1, "c", "missing")) == (4, 9)  # nearest ancestor


def test_yaml_words_become_json_values_but_keys_stay_as_written() -> None:
    (doc,) = read_documents(b"on: yes\nn: ~\nf: 1.5\nd: 2024-05-01\ns: !!str 123\n", "f").documents
    assert doc.value == {"on": True, "n": None, "f": 1.5, "d": "2024-05-01", "s": "123"}


def test_empty_documents_are_skipped_and_indexes_kept() -> None:
    parsed = read_documents(b"# only a comment\n---\n---\na: 1\n", "f.yaml")
    assert [(d.index, d.value) for d in parsed.documents] == [(1, {"a": 1})]


def test_an_anchor_nothing_refers_to_is_harmless() -> None:
    parsed = read_documents(b"a: &x 1\nb: 2\n", "f.yaml")
    assert parsed.problems == [] and parsed.documents[0].value == {"a": 1, "b": 2}


def test_an_alias_is_refused_where_it_is_and_names_its_anchor() -> None:
    parsed = read_documents(b"a: &x [1]\nb: *x\n", "f.yaml")
    assert [(p.line, p.column, p.field) for p in parsed.problems] == [(2, 4, "b")]
    assert parsed.problems[0].message == (
        "YAML anchors and aliases (&name, *name, <<) are not allowed in manifests; write the "
        "value out (*x refers to &x at line 1, column 4)"
    )
    # the rest of the document is still read (and checked): only the alias is dropped
    (doc,) = parsed.documents
    assert doc.value == {"a": [1], "b": None} and doc.refused == {("b",)}


def test_a_merge_key_from_another_documents_anchor_is_refused_plainly() -> None:
    # libyaml fails such a file with "found undefined alias" (anchors are per document) and
    # would end it there; the other problems of the file must still show
    data = (
        b"defaults: &d {state: active}\n"
        b"---\n"
        b"spec:\n"
        b"  <<: *d\n"
        b"  odd: !!set {x}\n"
        b"---\n"
        b"later: !!binary aGk=\n"
    )
    parsed = read_documents(data, "f.yaml")
    assert parsed.complete
    assert [(p.line, p.column, p.message) for p in parsed.problems] == [
        (
            4,
            7,
            "YAML anchors and aliases (&name, *name, <<) are not allowed in manifests; write "
            "the value out (*d refers to &d at line 1, column 11)",
        ),
        (5, 8, "YAML tag 'tag:yaml.org,2002:set' is not allowed in manifests"),
        (7, 8, "YAML tag 'tag:yaml.org,2002:binary' is not allowed in manifests"),
    ]
    assert [d.value for d in parsed.documents] == [
        {"defaults": {"state": "active"}},
        {"spec": {"odd": None}},
        {"later": None},
    ]


def test_a_merge_key_written_out_and_an_unknown_alias_are_refused() -> None:
    parsed = read_documents(b"a: {<<: {x: 1}}\n---\nb: *nowhere\n", "f.yaml")
    assert [(p.line, p.column, p.message.split("; ", 1)[1]) for p in parsed.problems] == [
        (1, 5, "write the value out"),
        (3, 4, "write the value out (*nowhere refers to no anchor before it)"),
    ]


def test_a_syntax_error_ends_the_file_but_keeps_earlier_documents() -> None:
    parsed = read_documents(b"a: 1\n---\nb: [\n", "f.yaml")
    assert [d.value for d in parsed.documents] == [{"a": 1}]
    assert not parsed.complete
    assert parsed.problems[0].line == 4
    assert parsed.problems[0].message.startswith("YAML syntax error:")


def test_bytes_that_are_not_text() -> None:
    parsed = read_documents(b"a: \xff\xfe\n", "f.yaml")
    assert not parsed.complete
    assert parsed.problems[0].message == (
        "not readable as text: invalid leading UTF-8 octet (at character 3)"
    )


def test_a_collection_as_key_is_refused() -> None:
    parsed = read_documents(b"? [a]\n: 1\nb: 2\n", "f.yaml")
    assert parsed.documents[0].value == {"b": 2}
    assert parsed.problems[0].message == "a mapping key must be plain text"
    assert parsed.problems[0].line == 1


def test_set_and_binary_tags_are_refused() -> None:
    parsed = read_documents(b"a: !!set {x}\nb: !!binary aGk=\n", "f.yaml")
    assert [(p.line, p.message) for p in parsed.problems] == [
        (1, "YAML tag 'tag:yaml.org,2002:set' is not allowed in manifests"),
        (2, "YAML tag 'tag:yaml.org,2002:binary' is not allowed in manifests"),
    ]
    assert parsed.documents[0].refused == {("a",), ("b",)}


def test_format_path() -> None:
    assert format_path(("spec", "sims", 3, "state")) == "spec.sims[3].state"
    assert format_path(("spec", "apns", "iot.acme")) == "spec.apns[iot.acme]"
    assert format_path(()) == ""


def test_a_number_too_long_for_python_is_a_problem_not_a_traceback() -> None:
    parsed = read_documents(b"a: 1\nb: " + b"9" * 5000 + b"\nc: 2\n", "n.yaml")
    assert [(p.line, p.column) for p in parsed.problems] == [(2, 4)]
    assert "a number of 5,000 characters is too long" in parsed.problems[0].message
