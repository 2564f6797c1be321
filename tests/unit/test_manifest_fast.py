"""The fast manifest path gives what the marked path gives, or steps aside.

`reconciler.manifest.fast` parses with yaml-rs and finds places only when asked. The promise:
whatever it accepts, the marked path (`loader._load` over PyYAML) accepts too, with the same
fleet, the same places, the same group names; everything else (every error) is said by the
marked path. These tests hold it to that on generated sets, on YAML where 1.1 and 1.2 read
differently, and on a few hundred mutated sets.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests, validate
from reconciler.manifest.fast import load_fast
from reconciler.manifest.fast_parse import _Unsure, fast_documents
from reconciler.manifest.fast_parse import check_value as _check
from reconciler.manifest.iccid import with_check_digit
from reconciler.manifest.loader import ManifestSet, _load, default_validator
from reconciler.model import DesiredState, SourceRef

FLEET = """\
# yaml-language-server: $schema=fleet.schema.json
apiVersion: fleetform/v1
kind: Fleet
metadata: {name: demo}
spec:
  account: acme
  defaults:
    state: active
    ratePlan: IoT-1GB
    supplementaryPlans: [EU-Roaming-500MB]
    apns: {iot.acme: enabled}
    customFields: {custom1: base}
  guards: {maxChanges: "10%", allowRetire: true}
"""


def _iccid(n: int) -> str:
    return with_check_digit(f"894450{n:012d}")


def _entry(rng: random.Random, n: int, block: bool) -> str:
    iccid = _iccid(n)
    if rng.random() < 0.4:
        return f'    - "{iccid}"\n' if rng.random() < 0.5 else f"    - '{iccid}'\n"
    fields = [f'iccid: "{iccid}"']
    if rng.random() < 0.5:
        # (retired: see test_a_retired_sim_under_shared_values_goes_the_marked_way)
        fields.append(f"state: {rng.choice(['active', 'suspended'])}")
    if rng.random() < 0.5:
        fields.append(f"ratePlan: {rng.choice(['IoT-5GB', 'IoT-10GB', 'IoT-1GB'])}")
    if rng.random() < 0.3:
        plans = rng.sample(["EU-Roaming-500MB", "US-Roaming-1GB", "Asia-1GB"], rng.randrange(3))
        fields.append(f"supplementaryPlans: [{', '.join(plans)}]")
    if rng.random() < 0.4:
        fields.append(f"apns: {{iot.acme: {rng.choice(['enabled', 'disabled'])}, m2m: enabled}}")
    if rng.random() < 0.4:
        value = rng.choice(["null", '"berlin"', "munich", "'x y'", '""', "site-7"])
        fields.append(f"customFields: {{custom2: {value}, custom1: null}}")
    if not block:
        return "    - {" + ", ".join(fields) + "}\n"
    lines = []
    for index, field in enumerate(fields):
        lines.append(("    - " if index == 0 else "      ") + field + "\n")
    return "".join(lines)


def write_set(directory: Path, seed: int, groups: int = 5, sims: int = 12) -> Path:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    number = 0
    previous = ""
    for group in range(groups):
        head = [
            "apiVersion: fleetform/v1\n",
            "kind: SimGroup\n",
            f"metadata: {{name: g{group}}}\n",
            "spec:\n",
        ]
        if rng.random() < 0.5:
            head.append("  ratePlan: IoT-5GB\n")
        if rng.random() < 0.5:
            head.append("  supplementaryPlans: [US-Roaming-1GB]\n")
        if rng.random() < 0.5:
            head.append("  customFields: {custom1: group, custom3: null}\n")
        head.append("  sims:\n")
        for _ in range(sims):
            head.append(_entry(rng, number, rng.random() < 0.3))
            number += 1
        text = "".join(head)
        if group % 2:  # two documents in one file, the first with a comment before it
            (directory / f"pair{group}.yaml").write_text(
                "# two groups\n---\n" + previous + "---\n" + text, encoding="utf-8"
            )
        previous = text
        if not group % 2 and group == groups - 1:
            (directory / f"single{group}.yml").write_text(text, encoding="utf-8")
    return directory


def _strict(directory: Path) -> ManifestSet | tuple[str, ...]:
    try:
        return _load([directory], default_validator())
    except ManifestError as error:
        return tuple(str(p) for p in error.problems)


def _same(fast: ManifestSet, strict: ManifestSet) -> None:
    assert fast.groups == strict.groups
    assert fast.fleet.digest == strict.fleet.digest
    assert fast.fleet.files == strict.fleet.files
    assert fast.fleet.fleet == strict.fleet.fleet
    assert list(fast.fleet.sims) == list(strict.fleet.sims)
    for iccid, want in strict.fleet.sims.items():
        got = fast.fleet.sims[iccid]
        assert got == want, iccid
        assert want == got, iccid  # the eager SourceRef on the left, too
        assert list(got.field_sources.items()) == list(want.field_sources.items()), iccid
        assert str(got.source) == str(want.source)
        assert hash(got.source) == hash(want.source)


@pytest.mark.parametrize("seed", range(8))
def test_a_valid_set_loads_the_same_both_ways(tmp_path: Path, seed: int) -> None:
    directory = write_set(tmp_path / "set", seed)
    fast = load_fast([directory], default_validator())
    assert fast is not None, "the generated set is plain: the fast path must take it"
    strict = _strict(directory)
    assert isinstance(strict, ManifestSet)
    _same(ManifestSet(fleet=fast[0], groups=fast[1]), strict)


def test_places_are_found_when_asked_and_equal_the_marked_ones(tmp_path: Path) -> None:
    directory = write_set(tmp_path / "set", 3)
    fast = load_fast([directory], default_validator())
    assert fast is not None
    fleet = fast[0]
    strict = _strict(directory)
    assert isinstance(strict, ManifestSet)
    # ask the last SIM first: its file is read the marked way, every place in it found
    iccid = list(fleet.sims)[-1]
    assert fleet.sims[iccid].source == strict.fleet.sims[iccid].source
    assert isinstance(strict.fleet.sims[iccid].source, SourceRef)
    assert {fleet.fleet.source} == {strict.fleet.fleet.source}


# Each is YAML that yaml-rs reads without complaint (or reads differently from PyYAML), that
# the marked path refuses or reads otherwise: the fast path must step aside for each.
AMBIGUOUS = [
    "customFields: {custom1: yes}",  # YAML 1.1 bool
    "customFields: {custom1: on}",
    "customFields: {custom1: 0x1F}",
    "customFields: {custom1: 1_000}",
    "customFields: {custom1: 1:20}",
    "customFields: {custom1: =}",
    "customFields: {custom1: 010}",
    "ratePlan: NO",
    'customFields: {custom1: "a\\/b"}',  # a YAML 1.2 escape, unknown to 1.1
    'customFields: {custom1: "\x07"}',
    "customFields: {custom1: &a x, custom2: *a}",
    "customFields: {custom1: !!str x}",
    "customFields: {custom1: x, custom1: y}",
    "state: active\n      state: suspended",
]


@pytest.mark.parametrize("declaration", AMBIGUOUS)
def test_yaml_read_differently_goes_the_marked_way(tmp_path: Path, declaration: str) -> None:
    directory = tmp_path / "set"
    directory.mkdir()
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    (directory / "g.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: g}\nspec:\n  sims:\n"
        f'    - iccid: "{_iccid(1)}"\n      {declaration}\n',
        encoding="utf-8",
    )
    fast = load_fast([directory], default_validator())
    strict = _strict(directory)
    if fast is not None:  # only where the marked path reads the same (``\/`` is one)
        assert isinstance(strict, ManifestSet)
        _same(ManifestSet(fleet=fast[0], groups=fast[1]), strict)
    verdict = validate([directory])
    if isinstance(strict, ManifestSet):  # the file was read the marked way, and it is valid
        assert verdict.manifests is not None
        _same(verdict.manifests, strict)
    else:
        assert tuple(str(p) for p in verdict.problems) == strict


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n",  # a number: its spelling matters
        f"- {_iccid(5)}\n",  # an unquoted ICCID
        "a: b\n---\nnull\n",  # a document that is null, written out
        "\ta: b\n",
        "a: b\r\n",
        "%YAML 1.1\n---\na: b\n",
        "a: b\n...\n",
        "{true: 1}\n",
        "[" * 300 + "]" * 300 + "\n",
    ],
)
def test_the_scan_and_the_values_send_doubtful_files_the_marked_way(text: str) -> None:
    documents = fast_documents(text.encode(), "f.yaml")
    if documents is not None:  # parsed: the check of the values must refuse them
        with pytest.raises(_Unsure):
            for document in documents:
                _check(document, 0)


def test_documents_are_found_as_the_marked_path_finds_them() -> None:
    text = "# c\n---\na: x\n---\n---\n# only a comment\n---\nb: y\n"
    assert fast_documents(text.encode(), "f.yaml") == [{"a": "x"}, {"b": "y"}]
    assert fast_documents(b"a: x\n---\nb: y\n", "f.yaml") == [{"a": "x"}, {"b": "y"}]
    assert fast_documents(b"", "f.yaml") == []


_NOISE = [
    "&",
    "*",
    "!",
    ":",
    "-",
    " ",
    "\n",
    "\t",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "#",
    ",",
    "?",
    "|",
    ">",
    "%",
    "@",
    "`",
    "0",
    "7",
    "yes",
    "null",
    "~",
    "---",
    "...",
    "\\",
    "\x00",
    "é",
    "  ",
]


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(text) + 1)
        kind = rng.random()
        if kind < 0.45:
            text = text[:at] + rng.choice(_NOISE) + text[at:]
        elif kind < 0.75:
            text = text[:at] + text[at + rng.randrange(1, 6) :]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                line = rng.randrange(len(lines))
                lines.insert(line, lines[line])
                text = "".join(lines)
    return text


@pytest.mark.parametrize("seed", range(6))
def test_mutated_sets_never_pass_the_fast_path_where_the_marked_path_objects(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(1000 + seed)
    for round_ in range(40):
        directory = write_set(tmp_path / f"s{round_}", seed * 100 + round_, groups=2, sims=5)
        victim = rng.choice(sorted(directory.iterdir()))
        victim.write_text(_mutate(rng, victim.read_text(encoding="utf-8")), encoding="utf-8")
        fast = load_fast([directory], default_validator())
        strict = _strict(directory)
        if fast is not None:
            assert isinstance(strict, ManifestSet), (victim.read_text(), strict)
            _same(ManifestSet(fleet=fast[0], groups=fast[1]), strict)
        try:
            loaded = load_manifests([directory])
        except ManifestError as error:
            assert tuple(str(p) for p in error.problems) == strict
        else:
            assert isinstance(strict, ManifestSet)
            _same(loaded, strict)


def test_a_retired_sim_under_shared_values_takes_only_its_state_from_them(tmp_path: Path) -> None:
    """A retired SIM takes only ``state`` from its group and the defaults (the marked loader's
    `retired_only`): the fast path builds the same SIM, with the same places."""
    directory = tmp_path / "set"
    directory.mkdir()
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    iccid, other, third = _iccid(1), _iccid(2), _iccid(3)
    (directory / "group.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: g}\nspec:\n  sims:\n"
        f'    - {{iccid: "{iccid}", state: retired}}\n'
        f'    - {{iccid: "{other}", state: retired, ratePlan: IoT-5GB, apns: {{m2m: enabled}}}}\n'
        "---\napiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: r}\n"
        f'spec:\n  state: retired\n  ratePlan: IoT-5GB\n  sims: ["{third}"]\n',
        encoding="utf-8",
    )
    fast = load_fast([directory], default_validator())
    assert fast is not None
    strict = _strict(directory)
    assert isinstance(strict, ManifestSet)
    _same(ManifestSet(fleet=fast[0], groups=fast[1]), strict)
    sim = fast[0].sims[iccid]
    assert sim.state is DesiredState.RETIRED
    assert (sim.rate_plan, sim.supplementary_plans, dict(sim.apns), dict(sim.custom_fields)) == (
        None,
        (),
        {},
        {},
    )
    assert fast[0].sims[other].rate_plan == "IoT-5GB" and fast[0].sims[third].rate_plan is None


# --- places without the marked parse (reconciler.manifest.places) ------------------------------


def _styled_value(rng: random.Random, value: str, odd: bool) -> str:
    """``value`` written plain, double- or single-quoted (odd: some the scanner is unsure of)."""
    kind = rng.random()
    if odd and kind < 0.15:
        return "|\n          " + value + "\n"  # a block scalar: the marked way
    if kind < 0.4:
        return value
    if kind < 0.7:
        return f'"{value}"'
    return "'" + value.replace("'", "''") + "'"


def _styled_entry(rng: random.Random, n: int, dash: int, odd: bool) -> str:
    """One SIM entry in one of the styles people write: a flow mapping (spaced any way), a
    compact block mapping, a mapping below its dash, with comments and blank lines about."""
    iccid = _iccid(n)
    pad = " " * dash
    if rng.random() < 0.25:
        quote = rng.choice(['"', "'"])
        comment = rng.choice(["", "  # a comment", " #c"])
        return f"{pad}- {quote}{iccid}{quote}{comment}\n"
    fields: list[tuple[str, object]] = [("iccid", f'"{iccid}"')]
    if rng.random() < 0.5:
        fields.append(("state", rng.choice(["active", "suspended", '"active"', "retired"])))
    if rng.random() < 0.5:
        fields.append(("ratePlan", rng.choice(["IoT-5GB", "'IoT-10GB'", "IoT 1GB"])))
    if rng.random() < 0.3:
        plans = rng.sample(["EU-Roaming-500MB", "US-Roaming-1GB", "Asia-1GB"], rng.randrange(3))
        fields.append(("supplementaryPlans", plans))
    if rng.random() < 0.4:
        apns = {"iot.acme": rng.choice(["enabled", "disabled"])}
        if rng.random() < 0.5:
            apns["m2m"] = "enabled"
        fields.append(("apns", apns))
    if rng.random() < 0.5:
        value = rng.choice(["null", "~", "berlin", "x y", "it's", "München", "", "a:b", "a#b"])
        custom = {"custom2": value}
        if rng.random() < 0.5:
            custom["custom1"] = "null"
        fields.append(("customFields", custom))
    rng.shuffle(fields[1:])
    style = rng.random()
    if style < 0.45:  # a flow mapping on one line
        sp = rng.choice(["", " ", "  "])

        def flow(value: object) -> str:
            if isinstance(value, list):
                return "[" + sp + ", ".join(value) + sp + "]"
            if isinstance(value, dict):
                parts = [f"{k}: {_flow_text(rng, v)}" for k, v in value.items()]
                return "{" + sp + (", " if rng.random() < 0.7 else " ,").join(parts) + sp + "}"
            return str(value)

        body = ", ".join(f"{k}: {flow(v)}" for k, v in fields)
        tail = rng.choice(["", "   # flow", ""])
        if odd and rng.random() < 0.2:  # over two lines: the marked way
            return f"{pad}- {{{body},\n{pad}   }}\n"
        return f"{pad}- {{{sp}{body}{sp}}}{tail}\n"
    below = style > 0.85  # the mapping starts on the line below the dash
    inner = dash + (rng.choice([2, 4]) if below else 2)
    lines = [f"{pad}-" + rng.choice(["", "  # entry"]) + "\n"] if below else []
    for index, (key, value) in enumerate(fields):
        lead = f"{pad}- " if index == 0 and not below else " " * inner
        if rng.random() < 0.1:
            lines.append(" " * rng.randrange(8) + "# a comment line\n")
        if rng.random() < 0.05:
            lines.append("\n")
        if isinstance(value, list):
            if not value or rng.random() < 0.5:
                lines.append(f"{lead}{key}: [{', '.join(value)}]\n")
            else:
                step = rng.choice([0, 2])  # 0: the sequence at its key's indentation
                lines.append(f"{lead}{key}:\n")
                lines.extend(f"{' ' * (inner + step)}- {plan}\n" for plan in value)
        elif isinstance(value, dict):
            if rng.random() < 0.5:
                parts = ", ".join(f"{k}: {_flow_text(rng, v)}" for k, v in value.items())
                lines.append(f"{lead}{key}: {{{parts}}}\n")
            else:
                lines.append(f"{lead}{key}:" + rng.choice(["", " # below"]) + "\n")
                for k, v in value.items():
                    text = _block_text(rng, v, odd)
                    lines.append(f"{' ' * (inner + rng.choice([1, 2, 3]) * 0 + 2)}{k}:{text}\n")
        else:
            lines.append(f"{lead}{key}: {value}" + rng.choice(["", " # why"]) + "\n")
    return "".join(lines)


def _flow_text(rng: random.Random, value: str) -> str:
    if value in ("null", "~") or (value and value.isalpha() and value.isascii()):
        return value
    if value.replace(".", "").isalnum():
        return value
    return '"' + value + '"' if rng.random() < 0.5 else "'" + value.replace("'", "''") + "'"


def _block_text(rng: random.Random, value: str, odd: bool) -> str:
    if value == "":
        return rng.choice(["", ' ""', " ''"])  # empty: null, or the empty text
    if value in ("null", "~") or value.isalpha():
        return " " + value
    if value == "a#b":
        return " a#b"
    return " " + _styled_value(rng, value, odd) if value != "a:b" else ' "a:b"'


def write_styled_set(directory: Path, seed: int, *, odd: bool = False) -> Path:
    """A valid set in the styles of `_styled_entry`, several documents a file, the sequence of
    SIMs indented any way (or at its key's indentation). ``odd``: now and then a construct the
    scanner does not read (a block scalar, a flow mapping over two lines)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    fleet = FLEET.replace("metadata: {name: demo}", "metadata:\n  name: demo  # the fleet")
    (directory / "fleet.yaml").write_text(fleet, encoding="utf-8")
    number = 0
    for file in range(3):
        documents = []
        for group in range(rng.choice([1, 2, 3])):
            indent = rng.choice([2, 3, 4])
            pad = " " * indent
            head = ["# the group\n"] if rng.random() < 0.5 else []
            head += ["apiVersion: fleetform/v1\n", "kind: SimGroup\n"]
            if rng.random() < 0.5:
                head.append(f"metadata: {{name: g{file}-{group}}}\n")
            else:
                head.append(f"metadata:\n{pad}name: 'g{file}-{group}'\n")
            head.append("spec:\n")
            if rng.random() < 0.15:
                head.append(f"{pad}state: retired\n")
            if rng.random() < 0.5:
                head.append(f"{pad}ratePlan: IoT-5GB  # the group's\n")
            if rng.random() < 0.5:
                head.append(f"{pad}supplementaryPlans: [US-Roaming-1GB]\n")
            if rng.random() < 0.5:
                head.append(f"{pad}customFields:\n{pad}{pad}custom1: group\n{pad}{pad}custom3:\n")
            head.append(f"{pad}sims:" + rng.choice(["", "   # the SIMs"]) + "\n")
            dash = indent + rng.choice([0, 2, 3])
            for _ in range(rng.randrange(1, 9)):
                head.append(_styled_entry(rng, number, dash, odd))
                number += 1
                if rng.random() < 0.1:
                    head.append(" " * rng.randrange(10) + "# between entries\n")
            if rng.random() < 0.3:
                head.append(f"{pad}apns: {{iot.acme: disabled}}\n")  # a key after the SIMs
            documents.append("".join(head))
        separator = rng.choice(["---\n", "--- # next\n", "\n---\n"])
        lead = rng.choice(["", "---\n", "# file\n---\n"])
        (directory / f"f{file}.yaml").write_text(lead + separator.join(documents), "utf-8")
    return directory


@pytest.mark.parametrize("seed", range(40))
def test_places_found_by_the_scanner_equal_the_marked_ones(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every place of a plainly written set, found without a marked parse, is the marked one."""
    import reconciler.manifest.fast as fast_module
    import reconciler.manifest.fast_places as fast_places

    directory = write_styled_set(tmp_path / "set", seed)
    strict = _strict(directory)
    assert isinstance(strict, ManifestSet), strict
    marked: list[str] = []
    real = fast_module.read_documents

    def counted(data: bytes, file: str) -> object:
        marked.append(file)
        return real(data, file)

    monkeypatch.setattr(fast_module, "read_documents", counted)  # at load
    monkeypatch.setattr(fast_places, "read_documents", counted)  # when a place is asked for
    fast = load_fast([directory], default_validator())
    assert fast is not None
    _same(ManifestSet(fleet=fast[0], groups=fast[1]), strict)
    assert marked == [], "the scanner must read these files itself"


@pytest.mark.parametrize("seed", range(30))
def test_places_the_scanner_is_unsure_of_are_found_the_marked_way(
    tmp_path: Path, seed: int
) -> None:
    directory = write_styled_set(tmp_path / "set", 500 + seed, odd=True)
    strict = _strict(directory)
    fast = load_fast([directory], default_validator())
    if not isinstance(strict, ManifestSet):  # an odd construct can make the set invalid
        assert fast is None
    elif fast is not None:
        _same(ManifestSet(fleet=fast[0], groups=fast[1]), strict)


def test_the_file_of_a_place_is_known_without_reading_the_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner groups missing SIMs by ``source.file``: that reads no line of any file."""
    import reconciler.manifest.fast_places as fast_places

    directory = write_styled_set(tmp_path / "set", 7)
    fast = load_fast([directory], default_validator())
    assert fast is not None
    read: list[object] = []
    monkeypatch.setattr(fast_places, "scan_item", lambda *a: read.append(a))
    monkeypatch.setattr(fast_places, "scan_document", lambda *a: read.append(a))
    monkeypatch.setattr(fast_places, "read_documents", lambda *a: read.append(a))
    files = {sim.source.file for sim in fast[0].sims.values()}
    assert files == {str(directory / f"f{n}.yaml") for n in range(3)} and read == []


def test_entry_values_stay_right_when_the_value_caches_start_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caches of checked entry values are bounded; a value merged over the group's must
    never be taken for another one that a freed value's memory was reused for."""
    import reconciler.manifest.fast as fast_module

    monkeypatch.setattr(fast_module, "_CACHED", 2)
    directory = tmp_path / "set"
    directory.mkdir()
    (directory / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    entries = "".join(
        f'    - {{iccid: "{_iccid(n)}", apns: {{m{n % 7}: enabled}}, '
        f"customFields: {{custom2: asset-{n}}}}}\n"
        for n in range(300)
    )
    (directory / "g.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: g}\nspec:\n"
        "  apns: {iot: enabled}\n  customFields: {custom3: group}\n  sims:\n" + entries,
        encoding="utf-8",
    )
    fast = load_fast([directory], default_validator())
    assert fast is not None
    strict = _strict(directory)
    assert isinstance(strict, ManifestSet)
    _same(ManifestSet(fleet=fast[0], groups=fast[1]), strict)
