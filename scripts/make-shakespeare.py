#!/usr/bin/env python3
"""Builds data/shakespeare.txt, the demo's training text, from Project Gutenberg's
Shakespeare plays (public domain).

Input: the cleaned Gutenberg texts shipped in the Open Knowledge Foundation's
`shakespeare` package (version 0.6, folder shksprdata/texts/, files <play>_gut.txt).
Usage: scripts/make-shakespeare.py SRC_DIR [OUT]   (OUT defaults to data/shakespeare.txt)

The plays are concatenated in the order of PLAYS, separated by blank lines. Any
Project Gutenberg header or footer still present is cut off; the output must be plain
ASCII with Unix line ends and contain no Gutenberg boilerplate, else the script fails.
"""
import pathlib
import re
import sys

PLAYS = [
    "hamlet", "macbeth", "lear", "othello", "romeo_and_juliet",
    "julius_caesar", "tempest", "midsummer_nights_dream",
]

# Gutenberg's own marker lines: the licence header ends at the first, the footer
# starts at the second.
HEADER_END = re.compile(r"^\*+\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
FOOTER_START = re.compile(r"^.*End of (the )?Project Gutenberg.*$", re.M | re.I)


def clean(text: str, name: str) -> str:
    text = text.replace("\r\n", "\n")
    header = HEADER_END.search(text)
    if header:
        text = text[header.end():]
    footer = FOOTER_START.search(text)
    if footer:
        text = text[:footer.start()]
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    if re.search(r"gutenberg|etext", text, re.I):
        sys.exit(f"{name}: Project Gutenberg boilerplate left after cleaning")
    if not text.isascii():
        sys.exit(f"{name}: non-ASCII characters")
    return text


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2] if len(sys.argv) == 3 else "data/shakespeare.txt")
    plays = [clean((src / f"{p}_gut.txt").read_text(encoding="ascii"), p) for p in PLAYS]
    out.write_text("\n\n\n\n".join(plays) + "\n", encoding="ascii")
    print(f"{out}: {len(PLAYS)} plays, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
