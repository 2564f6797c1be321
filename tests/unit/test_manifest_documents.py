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


def test_an_alias_is_refused_at_its_key() -> None:
    parsed = read_documents(b"a: &x [1]\nb: *x\n", "f.yaml")
    assert parsed.documents == []
    assert [(p.line, p.column) for p in parsed.problems] == [(2, 1)]
    assert "aliases" in parsed.problems[0].message


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
