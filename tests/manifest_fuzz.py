"""Mutated manifest sets for the fuzz test (`tests/acceptance/test_manifest_fuzz.py`) and the
full run (`bench/manifest_fuzz.py`).

`make_cases(base, root, count, seed)` copies the valid manifest set ``base`` into ``count``
folders under ``root`` and damages each one in one way, deterministically for ``seed``:
hostile files (symlink loops, broken links, FIFOs, devices, files over the size limit, nesting
10,000 deep, binary junk, NUL bytes, anchors and aliases, tabs) and random damage of the YAML
(truncation, flipped bytes, inserted characters, values of the wrong type). Each case says what
``validate`` must answer: ``valid``, ``invalid``, or ``either`` for random damage that may
leave a valid set (then the answer must still be one of the two, without a traceback).
``heavy`` cases (a file of 20 MiB, the largest the loader reads) cost seconds each and are made
only when asked.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 20 * 1024 * 1024  # the loader's limit (reconciler.manifest.files)
DEEP = 10_000


@dataclass(frozen=True)
class Case:
    name: str
    path: Path  # the folder to validate / plan
    expect: str  # "valid" | "invalid" | "either"
    heavy: bool = False


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml") if p.is_file() and not p.is_symlink())


def _group(folder: Path, rng: random.Random) -> Path:
    groups = [p for p in _yaml_files(folder) if p.name != "fleet.yaml"]
    return rng.choice(groups)


# --- fixed hostile cases: (name, expect, heavy, damage) ------------------------------------------


def _self_loop(d: Path, rng: random.Random) -> None:
    (d / "groups").mkdir()
    os.symlink("self.yaml", d / "groups" / "self.yaml")


def _pair_loop(d: Path, rng: random.Random) -> None:
    os.symlink("b.yml", d / "a.yml")
    os.symlink("a.yml", d / "b.yml")


def _dir_loop(d: Path, rng: random.Random) -> None:
    (d / "sub").mkdir()
    os.symlink("..", d / "sub" / "up")  # a symlinked folder is not walked: no loop, still valid


def _dangling(d: Path, rng: random.Random) -> None:
    os.symlink("nowhere.yaml", d / "dangling.yaml")


def _fifo(d: Path, rng: random.Random) -> None:
    os.mkfifo(d / "pipe.yaml")


def _device(d: Path, rng: random.Random) -> None:
    os.symlink("/dev/zero", d / "zero.yaml")


def _oversize_sparse(d: Path, rng: random.Random) -> None:
    with open(d / "big.yaml", "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)


def _oversize_real(d: Path, rng: random.Random) -> None:
    line = b"# " + b"x" * 1021 + b"\n"
    with open(d / "big.yaml", "wb") as handle:
        for _ in range(MAX_FILE_BYTES // len(line) + 2):
            handle.write(line)


def _twenty_mib_comment(d: Path, rng: random.Random) -> None:
    """A file just under the limit: read and parsed whole; valid (a comment)."""
    line = b"# " + b"x" * 1021 + b"\n"
    with open(d / "big.yaml", "wb") as handle:
        for _ in range(MAX_FILE_BYTES // len(line) - 1):
            handle.write(line)


def _twenty_mib_junk(d: Path, rng: random.Random) -> None:
    with open(d / "junk.yaml", "wb") as handle:
        handle.write(rng.randbytes(MAX_FILE_BYTES - 1024))


def _deep_flow_list(d: Path, rng: random.Random) -> None:
    (d / "deep.yaml").write_text("[" * DEEP + "]" * DEEP + "\n")


def _deep_flow_map(d: Path, rng: random.Random) -> None:
    (d / "deep.yaml").write_text("{a: " * DEEP + "1" + "}" * DEEP + "\n")


def _deep_block_list(d: Path, rng: random.Random) -> None:
    (d / "deep.yaml").write_text("- " * DEEP + "x\n")


def _deep_block_map(d: Path, rng: random.Random) -> None:
    (d / "deep.yaml").write_text("".join(" " * i + "a:\n" for i in range(DEEP)))


def _deep_in_spec(d: Path, rng: random.Random) -> None:
    nested = "[" * DEEP + "]" * DEEP
    (d / "deep.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: deep}\n"
        f"spec:\n  customFields: {{custom1: {nested}}}\n  sims: []\n"
    )


def _binary(d: Path, rng: random.Random) -> None:
    (d / "junk.yaml").write_bytes(rng.randbytes(rng.randint(1, 64 * 1024)))


def _nul(d: Path, rng: random.Random) -> None:
    target = _group(d, rng)
    data = target.read_bytes()
    at = rng.randrange(len(data))
    target.write_bytes(data[:at] + b"\x00" + data[at:])


def _billion_laughs(d: Path, rng: random.Random) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (d / "laughs.yaml").write_text("\n".join(lines) + "\n")


def _tab(d: Path, rng: random.Random) -> None:
    target = _group(d, rng)
    text = target.read_text()
    target.write_text(text.replace("\n  ", "\n\t", 1))


def _no_fleet(d: Path, rng: random.Random) -> None:
    (d / "fleet.yaml").unlink()


def _two_fleets(d: Path, rng: random.Random) -> None:
    shutil.copy(d / "fleet.yaml", d / "fleet-2.yaml")


def _only_other_suffixes(d: Path, rng: random.Random) -> None:
    for path in _yaml_files(d):
        path.rename(path.with_suffix(".txt"))


def _unquoted_iccid(d: Path, rng: random.Random) -> None:
    target = _group(d, rng)
    text = target.read_text()
    target.write_text(text.replace('- "89', "- 89", 1).replace('"\n', "\n", 1))


def _long_value(d: Path, rng: random.Random) -> None:
    (d / "long.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: long}\n"
        f"spec:\n  customFields: {{custom1: {'x' * 1_000_000}}}\n  sims: []\n"
    )


def _many_documents(d: Path, rng: random.Random) -> None:
    (d / "docs.yaml").write_text("---\n" * 20_000)


def _huge_number(d: Path, rng: random.Random) -> None:
    (d / "num.yaml").write_text(
        "apiVersion: fleetform/v1\nkind: SimGroup\nmetadata: {name: num}\n"
        f"spec:\n  customFields: {{custom1: {'9' * 100_000}}}\n  sims: []\n"
    )


def _folder_named_yaml(d: Path, rng: random.Random) -> None:
    (d / "folder.yaml").mkdir()


def _empty_file(d: Path, rng: random.Random) -> None:
    (d / "empty.yaml").write_text("")


def _utf16(d: Path, rng: random.Random) -> None:
    target = _group(d, rng)
    target.write_bytes(target.read_text().encode("utf-16"))


Damage = Callable[[Path, random.Random], None]

FIXED: tuple[tuple[str, str, bool, Damage], ...] = (
    ("symlink-self-loop", "invalid", False, _self_loop),
    ("symlink-pair-loop", "invalid", False, _pair_loop),
    ("symlink-folder-loop", "valid", False, _dir_loop),
    ("symlink-dangling", "invalid", False, _dangling),
    ("fifo", "invalid", False, _fifo),
    ("device", "invalid", False, _device),
    ("over-20-mib-sparse", "invalid", False, _oversize_sparse),
    ("over-20-mib", "invalid", True, _oversize_real),
    ("20-mib-comment", "valid", True, _twenty_mib_comment),
    ("20-mib-binary", "invalid", True, _twenty_mib_junk),
    ("deep-flow-list", "invalid", False, _deep_flow_list),
    ("deep-flow-map", "invalid", False, _deep_flow_map),
    ("deep-block-list", "invalid", False, _deep_block_list),
    ("deep-block-map", "invalid", False, _deep_block_map),
    ("deep-in-a-spec", "invalid", False, _deep_in_spec),
    ("billion-laughs", "invalid", False, _billion_laughs),
    ("tab-indent", "invalid", False, _tab),
    ("no-fleet", "invalid", False, _no_fleet),
    ("two-fleets", "invalid", False, _two_fleets),
    ("no-yaml-files", "invalid", False, _only_other_suffixes),
    ("unquoted-iccid", "invalid", False, _unquoted_iccid),
    ("value-of-a-million-characters", "invalid", False, _long_value),
    ("twenty-thousand-empty-documents", "either", False, _many_documents),
    ("number-of-100000-digits", "invalid", False, _huge_number),
    ("folder-named-yaml", "valid", False, _folder_named_yaml),
    ("empty-file", "either", False, _empty_file),
    ("utf-16", "either", False, _utf16),
)

# --- random damage -------------------------------------------------------------------------------

_ODD_VALUES = (
    "[]",
    "{}",
    "null",
    "~",
    "0",
    "-1",
    "1e999",
    "0x1F",
    ".nan",
    "true",
    "'\\u0000'",
    '"\\x00"',
    "!!binary aGVsbG8=",
    "!!python/object:os.system ls",
    "&x y",
    "*undefined",
    "<<: {a: 1}",
    '"' + "é" * 300 + '"',
    "|\n  block",
    "2001-12-14t21:59:43.10-05:00",
    "? complex key",
    "[" * 50,
    "}}}",
    "'unterminated",
    "\U0001f600" * 10,
)


def _truncate(d: Path, rng: random.Random) -> None:
    target = _group(d, rng) if rng.random() < 0.8 else d / "fleet.yaml"
    data = target.read_bytes()
    target.write_bytes(data[: rng.randrange(len(data))])


def _flip_bytes(d: Path, rng: random.Random) -> None:
    target = rng.choice(_yaml_files(d))
    data = bytearray(target.read_bytes())
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    target.write_bytes(bytes(data))


def _insert_characters(d: Path, rng: random.Random) -> None:
    target = rng.choice(_yaml_files(d))
    text = target.read_text(encoding="utf-8")
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(":-[]{}&*!|>'\"%@`#,?\t\n ") + text[at:]
    target.write_text(text, encoding="utf-8")


def _odd_value(d: Path, rng: random.Random) -> None:
    target = rng.choice(_yaml_files(d))
    lines = target.read_text(encoding="utf-8").splitlines()
    candidates = [i for i, line in enumerate(lines) if ":" in line and not line.startswith("#")]
    i = rng.choice(candidates)
    key = lines[i].split(":", 1)[0]
    lines[i] = f"{key}: {rng.choice(_ODD_VALUES)}"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _drop_lines(d: Path, rng: random.Random) -> None:
    target = rng.choice(_yaml_files(d))
    lines = target.read_text(encoding="utf-8").splitlines()
    for _ in range(rng.randint(1, 3)):
        if lines:
            del lines[rng.randrange(len(lines))]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _duplicate_lines(d: Path, rng: random.Random) -> None:
    target = rng.choice(_yaml_files(d))
    lines = target.read_text(encoding="utf-8").splitlines()
    i = rng.randrange(len(lines))
    lines.insert(i, lines[i])
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _swap_sims(d: Path, rng: random.Random) -> None:
    """Move a SIM line into another group: a SIM in two groups, or still valid."""
    files = [p for p in _yaml_files(d) if p.name != "fleet.yaml"]
    source, target = rng.sample(files, 2)
    sims = [line for line in source.read_text().splitlines() if line.strip().startswith('- "89')]
    if sims:
        with target.open("a", encoding="utf-8") as handle:
            handle.write(rng.choice(sims) + "\n")


RANDOM: tuple[tuple[str, Damage], ...] = (
    ("truncated", _truncate),
    ("flipped-bytes", _flip_bytes),
    ("inserted-characters", _insert_characters),
    ("odd-value", _odd_value),
    ("dropped-lines", _drop_lines),
    ("duplicated-line", _duplicate_lines),
    ("sim-moved", _swap_sims),
)


def make_cases(
    base: Path, root: Path, count: int = 305, seed: int = 12, *, heavy: bool = True
) -> list[Case]:
    """``count`` damaged copies of ``base`` under ``root``: every fixed case once (the heavy ones
    only with ``heavy``), then random damage until ``count``."""
    rng = random.Random(seed)
    cases: list[Case] = []

    def make(name: str, expect: str, is_heavy: bool, damage: Damage) -> None:
        folder = root / f"{len(cases):03d}-{name}"
        shutil.copytree(base, folder, symlinks=True)
        damage(folder, random.Random(rng.random()))
        cases.append(Case(name, folder, expect, is_heavy))

    for name, expect, is_heavy, damage in FIXED:
        if heavy or not is_heavy:
            make(name, expect, is_heavy, damage)
    while len(cases) < count:
        name, damage = RANDOM[len(cases) % len(RANDOM)]
        make(name, "either", False, damage)
    return cases
