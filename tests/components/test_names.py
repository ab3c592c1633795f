"""The identifier derived from a CSV column's name (components/names.py), and its collisions."""
import pytest

from components.names import ColumnNameError, derived_names, fold, is_plain_name


@pytest.mark.parametrize("name, derived", [
    ("Sepal length (cm)", "sepal_length_cm"),
    ("sepal.width", "sepal_width"),
    ("Pétale – couleur", "petale_couleur"),   # NFKD: é -> e; the en dash is a separator
    ("Price ($)", "price"),
    ("  Größe in m²  ", "grosse_in_m2"),     # ß -> ss by our table, ö -> o; ² folds to 2
    ("trip_start_hour", "trip_start_hour"),   # already an identifier: unchanged
    ("2nd-visit", "2nd_visit"),
    ("../evil", "evil"),
    ("ﬁle", "file"),                           # a ligature folds to its letters
])
def test_derived_name_is_lower_case_ascii_with_runs_as_underscores(name, derived):
    assert derived_names([name]) == {name: derived}
    assert is_plain_name(derived)


def test_collisions_are_made_unique_in_schema_order_and_identifiers_keep_their_own_name():
    names = ["A b", "a_b", "A-B", "a_b_2"]
    keys = derived_names(names)
    # a_b and a_b_2 are identifiers already: they keep them; the others get the next free suffix
    assert keys == {"A b": "a_b_3", "a_b": "a_b", "A-B": "a_b_4", "a_b_2": "a_b_2"}
    assert len(set(keys.values())) == len(names)
    assert list(keys) == names


def test_derivation_is_stable():
    names = ["Price ($)", "price", "PRICE"]
    assert derived_names(names) == derived_names(list(names)) == {
        "Price ($)": "price_2", "price": "price", "PRICE": "price_3"}


@pytest.mark.parametrize("name, reason", [
    ("", "empty"),
    ("%", "no letter or digit"),
    ("価格", "no letter or digit"),
])
def test_names_no_identifier_can_come_from_are_refused_with_the_reason(name, reason):
    with pytest.raises(ColumnNameError, match=reason) as error:
        derived_names(["ok", name])
    assert "Rename the column" in str(error.value)


def test_a_repeated_name_is_refused():
    with pytest.raises(ColumnNameError, match="'x': the header repeats it"):
        derived_names(["x", "y", "x"])


def test_long_names_are_cut_to_64_characters_without_a_trailing_underscore():
    assert fold("x" * 63 + " y" * 10) == "x" * 63
    assert len(fold("a" * 200)) == 64
