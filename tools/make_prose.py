"""Make ``data/novels/``: the English prose the course's base model is pretrained on.

    apt-get download r-cran-janeaustenr=1.0.0-1 r-cran-tokenizers=0.3.0-1
    python tools/make_prose.py DIR        # DIR holds the two .deb files

Jane Austen's six novels (Debian's ``r-cran-janeaustenr``) and Herman Melville's
*Moby Dick* (Debian's ``r-cran-tokenizers``), all public-domain Project Gutenberg
texts, shipped inside R packages under the MIT licence. The script reads the R
data files inside the packages with the standard library only, joins each
paragraph's hard-wrapped lines into one line, drops the underscores that mark
italics, removes Project Gutenberg's header,
licence and footer (allowed for a public-domain text, as the licence says, once
every reference to Project Gutenberg is gone) and Melville's front matter, and
writes two files:

- ``train.txt``: every book but its last 3 % of paragraphs, which are
- ``heldout.txt``: text the model never trains on (``helpers.pretrained.heldout_text``).

Running it again on the same packages writes the same bytes (``tests/test_data.py``
checks the recorded sha256 of both files).
"""

from __future__ import annotations

import argparse
import io
import re
import struct
import sys
import tarfile
import zlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "data" / "novels"
PACKAGES = {  # package file -> the R data file inside it
    "r-cran-janeaustenr_1.0.0-1_all.deb": "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb",
    "r-cran-tokenizers_0.3.0-1_amd64.deb": "usr/lib/R/site-library/tokenizers/data/Rdata.rdb",
}
HELD_OUT = 0.03  # the last 3 % of each book's paragraphs


def deb_member(deb: bytes, path: str) -> bytes:
    """One file of a Debian package: an ``ar`` archive whose ``data.tar.*`` holds the files."""
    if deb[:8] != b"!<arch>\n":
        raise ValueError("not a Debian package (no ar header)")
    position = 8
    while position < len(deb):
        name = deb[position : position + 16].decode().strip()
        size = int(deb[position + 48 : position + 58])
        body = deb[position + 60 : position + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                return tar.extractfile("./" + path).read()
        position += 60 + size + size % 2
    raise ValueError("no data.tar in the package")


def r_strings(rdb: bytes) -> list[list[str | None]]:
    """The character vectors of an R lazy-load database: zlib blobs of R's XDR serialization."""
    vectors, position = [], 0
    while position < len(rdb):
        (length,) = struct.unpack(">I", rdb[position : position + 4])
        inflater = zlib.decompressobj()
        blob = inflater.decompress(rdb[position + 4 :])[:length]
        position = len(rdb) - len(inflater.unused_data)
        vector = _string_vector(blob)
        if vector is not None:
            vectors.append(vector)
    return vectors


def _string_vector(blob: bytes) -> list[str | None] | None:
    """A serialized STRSXP (R's character vector), or ``None`` for any other object."""
    if blob[:2] != b"X\n":
        raise ValueError("not R's XDR serialization format")
    ints = iter(struct.unpack_from(">3i", blob, 2))
    version = next(ints)
    position = 14
    if version == 3:  # version 3 adds the native encoding: a length and its bytes
        (n,) = struct.unpack_from(">i", blob, position)
        position += 4 + n
    (flags, count) = struct.unpack_from(">2i", blob, position)
    position += 8
    if flags & 0xFF != 16:
        return None
    strings: list[str | None] = []
    for _ in range(count):
        (_, n) = struct.unpack_from(">2i", blob, position)
        position += 8
        strings.append(None if n == -1 else blob[position : position + n].decode("utf-8"))
        position += max(n, 0)
    return strings


def paragraphs(lines: list[str]) -> list[str]:
    """Hard-wrapped lines → one line per paragraph (blank lines separate paragraphs), spaces tidied,
    and the underscores that mark italics (``_them_``) dropped."""
    text = "\n".join(line.rstrip() for line in lines)
    blocks = [re.sub(r"\s+", " ", block).strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    return [re.sub(r"_([^_]+)_", r"\1", block) for block in blocks]


def moby_dick(text: str) -> list[str]:
    """Melville's chapters and epilogue, without Gutenberg's header, front matter and footer."""
    start = text.index("CHAPTER 1. Loomings.")
    end = text.index("End of Project Gutenberg")
    return paragraphs(text[start:end].replace("\r\n", "\n").split("\n"))


def books(folder: Path) -> list[list[str]]:
    austen, tokenizers = (r_strings(deb_member((folder / deb).read_bytes(), member)) for deb, member in PACKAGES.items())
    novels = [paragraphs([line or "" for line in book]) for book in austen]
    (melville,) = [vector[0] for vector in tokenizers if vector and vector[0] and "Moby Dick" in vector[0]]
    novels.append(moby_dick(melville))
    for book in novels:
        if any("gutenberg" in p.lower() for p in book):
            raise ValueError("a book still mentions Project Gutenberg: the licence requires removing every reference")
    return novels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder holding the two .deb files")
    args = parser.parse_args(argv)
    train, heldout = [], []
    for book in books(args.folder):
        cut = len(book) - round(HELD_OUT * len(book))
        train.append("\n\n".join(book[:cut]))
        heldout.append("\n\n".join(book[cut:]))
        print(f"{book[0][:40]!r:45} {len(book):6,} paragraphs, {cut:6,} for training")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, parts in (("train.txt", train), ("heldout.txt", heldout)):
        text = "\n\n\n".join(parts) + "\n"
        (OUT_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote data/novels/{name}: {len(text.encode()):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
