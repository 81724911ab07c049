"""Make the course's generated data files (`make data` runs this).

Usage::

    python tools/make_data.py [all|corpus|prose|stats] [--out DIR]

- ``corpus``: the French-English pairs ``fr_en_pairs.tsv``, from the grammar in
  ``helpers/corpus.py`` (seeded: the same file every time, on every machine);
- ``prose``: ``prose_python_reference.txt``, a snapshot of the Python language
  reference in the standard library's ``pydoc_data.topics`` (PSF licence), and
  ``prose_python_reference.json``, which records the Python version that made it
  and the snapshot's sha256;
- ``all`` (the default): both;
- ``stats``: print the numbers quoted in ``data/README.md`` (sizes, vocabularies,
  the word-by-word baseline on the test split).

``--out DIR`` writes into ``DIR`` instead of ``data/`` (the tests use it to check
that regenerating gives the committed files byte for byte).

The hand-written dictionary and the GPT-2 tokenizer files are not made here: see
``data/README.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # so that `python tools/make_data.py` finds helpers/
    sys.path.insert(0, str(REPO_ROOT))

from helpers import corpus  # noqa: E402
from helpers.rule_translator import rule_translate  # noqa: E402
from helpers.paths import DATA_DIR  # noqa: E402

PAIRS_NAME = "fr_en_pairs.tsv"
PROSE_NAME = "prose_python_reference.txt"
PROSE_META_NAME = "prose_python_reference.json"


def make_corpus(out_dir: Path) -> Path:
    """Write the train/validation/test pairs to ``out_dir/fr_en_pairs.tsv``."""
    path = out_dir / PAIRS_NAME
    corpus.write_pairs_tsv(path, corpus.make_splits())
    return path


def python_reference_text() -> str:
    """The Python language reference topics, sorted by topic name, blank-line separated."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key].strip() for key in sorted(topics)) + "\n"


def make_prose(out_dir: Path) -> Path:
    """Write the prose snapshot and a JSON file recording how it was made."""
    path = out_dir / PROSE_NAME
    data = python_reference_text().encode("utf-8")
    path.write_bytes(data)
    meta = {
        "source": "pydoc_data.topics of the Python standard library (PSF licence)",
        "python_version": platform.python_version(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    (out_dir / PROSE_META_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def print_stats(pairs_path: Path) -> None:
    """Print the corpus sizes, vocabularies and the two baselines on every split."""
    splits = {split: corpus.load_pairs(split, pairs_path) for split in corpus.SPLITS}
    for split, pairs in splits.items():
        print(f"{split}: {len(pairs)} pairs")
    all_pairs = [pair for pairs in splits.values() for pair in pairs]
    french_vocabulary = {word for french, _ in all_pairs for word in french.split()}
    english_vocabulary = {word for _, english in all_pairs for word in english.split()}
    print(f"French vocabulary: {len(french_vocabulary)} words")
    print(f"English vocabulary: {len(english_vocabulary)} words")
    lengths = [len(text.split()) for pair in all_pairs for text in pair]
    print(f"longest sentence: {max(lengths)} words")

    # The baselines: look every French word up and keep the order; or the hand-written rules.
    dictionary = corpus.word_by_word_dictionary()
    for split, pairs in splits.items():
        correct = sum(" ".join(dictionary[w] for w in french.split()) == english for french, english in pairs)
        rules = sum(rule_translate(french) == english for french, english in pairs)
        print(f"{split}: word-by-word exact match {correct / len(pairs):.1%}, rule translator {rules / len(pairs):.1%}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="all", choices=["all", "corpus", "prose", "stats"])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder to write into (default: data/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    if args.what in ("all", "corpus"):
        print(f"wrote {make_corpus(args.out)}")
    if args.what in ("all", "prose"):
        print(f"wrote {make_prose(args.out)} (Python {platform.python_version()})")
    if args.what == "stats":
        print_stats(args.out / PAIRS_NAME)


if __name__ == "__main__":
    main()
