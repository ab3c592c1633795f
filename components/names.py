"""Names: plain file/folder names, and the identifier derived from a CSV column's own name.

A feature keeps its CSV column's name in the schema, in tf.Examples, in `predict` and in the
raw-JSON signature (`Sepal length (cm)`, `Pétale – couleur`, `Price ($)`). Where a name must be
an identifier (Keras input and layer names, TF op names, file names), the pipeline uses ONE name
derived from it by `derived_names`, defined here and nowhere else:

- accents are folded to ASCII (Unicode NFKD, combining marks dropped: `é` -> `e`; `ß` -> `ss`,
  `ø` -> `o` and a few other Latin letters NFKD leaves alone), because `petale_couleur` reads
  better than `p_tale_couleur`; a character with no ASCII form (`価`) counts as a separator;
- lower-case; every run of characters other than `a-z` and `0-9` becomes one `_`, and `_` at
  either end is dropped (`Sepal length (cm)` -> `sepal_length_cm`, `Price ($)` -> `price`);
- made unique in schema order: a name already taken gets `_2`, `_3`, ... (`A b` and `a_b`
  -> `a_b`, `a_b_2`).

Refused, each with its reason: an empty name, a name the header repeats, and a name with no
letter or digit that folds to ASCII (`%`, `価格`): nothing an identifier could be made of.

Importable without TensorFlow (the `run-compiled` launcher and the CLI use it).
"""
import re
import unicodedata
from typing import Dict, Iterable

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_OTHER = re.compile(r"[^a-z0-9]+")
# Latin letters NFKD does not decompose, spelled as their languages spell them in ASCII.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
                          "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ı": "i"})
MAX_DERIVED = 64


class ColumnNameError(ValueError):
    """A column name no identifier can be derived from (what, why, how to fix)."""


def is_plain_name(name) -> bool:
    """Letters, digits, '_', '-' and '.', at most 128, not starting with '.' or '-', no '..'."""
    return isinstance(name, str) and bool(_PLAIN.fullmatch(name)) and ".." not in name


def fold(name: str) -> str:
    """`name` lower-cased, accents folded to ASCII, other runs as `_`, trimmed: not yet unique."""
    ascii_ = unicodedata.normalize("NFKD", name.translate(_LETTERS)).encode("ascii", "ignore").decode("ascii")
    return _OTHER.sub("_", ascii_.lower()).strip("_")[:MAX_DERIVED].strip("_")


def name_problem(name) -> str:
    """Why no identifier can be derived from `name`, or '' when one can."""
    if not isinstance(name, str) or name == "":
        return "the name is empty (a CSV header cell with no text)"
    if not fold(name):
        return ("it has no letter or digit that folds to ASCII, so no identifier (Keras input, "
                "file name) can be derived from it")
    return ""


def derived_names(names: Iterable[str]) -> Dict[str, str]:
    """CSV name -> its derived identifier, for every name, in order (see the module docstring).

    Raises ColumnNameError naming every name that cannot work and why.
    """
    names = list(names)
    problems = [f"{name!r}: {name_problem(name)}" for name in names if name_problem(name)]
    problems += [f"{name!r}: the header repeats it" for name in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise ColumnNameError("column name(s) the pipeline cannot use:\n  " + "\n  ".join(problems)
                         + "\nRename the column in the CSV header (and the schema's feature).")
    derived: Dict[str, str] = {}
    taken = set()
    # A name that is already its own identifier keeps it, whatever its position.
    for name in names:
        if fold(name) == name:
            derived[name] = name
            taken.add(name)
    for name in names:
        if name in derived:
            continue
        base = candidate = fold(name)
        n = 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        derived[name] = candidate
        taken.add(candidate)
    return {name: derived[name] for name in names}
