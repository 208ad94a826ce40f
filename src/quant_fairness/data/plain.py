"""A plain corpus: a folder of `<lang>.txt` (one segment per line, id = line number) or
`<lang>.jsonl` ({"id": ..., "text": ...} per line; the safe form, aligned by id).

Text files are aligned by line number, so one missing line would shift every later pair:
files of different line counts are refused. An id twice in one JSON-lines file is refused too.

    texts = load_plain("my_corpus/", ["en", "he"])     # {lang: {id: text}}
"""

import json
from pathlib import Path

from quant_fairness.data.corpus import normalise
from quant_fairness.errors import QuantFairnessError


def _jsonl_segments(path):
    seen = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            segment_id, text = str(row["id"]), row["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise QuantFairnessError(f"{path}:{number}: expected a JSON object with 'id' and 'text'") from None
        if segment_id in seen:
            raise QuantFairnessError(
                f"{path}: id {segment_id!r} is on lines {seen[segment_id]} and {number}; ids must be unique"
            )
        seen[segment_id] = number
        if text.strip():
            yield segment_id, normalise(text)


def check_line_counts(files):
    """Text files of a plain corpus pair by line number: refuse files whose line counts differ."""
    counts = {
        lang: len(path.read_text(encoding="utf-8").splitlines())
        for lang, path in files.items()
        if path.suffix == ".txt"
    }
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{lang}.txt {count}" for lang, count in sorted(counts.items()))
        raise QuantFairnessError(
            f"plain corpus .txt files pair segments by line number but their line counts differ ({shown} lines): "
            "one missing line would shift every later pair; align them, or use <lang>.jsonl with ids"
        )


def plain_files(folder, languages):
    """{lang: path} of a plain corpus, `<lang>.jsonl` before `<lang>.txt`; one clear error if missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise QuantFairnessError(f"plain corpus folder {str(folder)!r} does not exist")
    files = {}
    for lang in languages:
        candidates = [folder / f"{lang}{suffix}" for suffix in (".jsonl", ".txt")]
        found = [path for path in candidates if path.is_file()]
        if not found:
            raise QuantFairnessError(
                f"language {lang!r} has no {lang}.jsonl or {lang}.txt in plain corpus folder {str(folder)!r}"
            )
        files[lang] = found[0]
    return files


def load_plain(folder, languages):
    """{lang: {id: text}} from `<lang>.jsonl` or `<lang>.txt` files in `folder`."""
    files = plain_files(folder, languages)
    check_line_counts(files)
    texts = {}
    for lang, path in files.items():
        if path.suffix == ".jsonl":
            texts[lang] = dict(_jsonl_segments(path))
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            texts[lang] = {f"{i:06d}": normalise(line) for i, line in enumerate(lines, 1) if line.strip()}
    return texts
