"""全国地方公共団体コード check digits and normalisation."""

from __future__ import annotations

import pytest

from gis import check_digit, normalize_municipality_code


@pytest.mark.parametrize(
    ("code5", "digit"),
    [("13101", "6"), ("17201", "4"), ("17202", "2"), ("17204", "9"), ("99999", "7")],
)
def test_check_digit_matches_published_codes(code5: str, digit: str) -> None:
    assert check_digit(code5) == digit


def test_check_digit_wraps_remainders_zero_and_one() -> None:
    assert check_digit("01100") == "2"  # 札幌市 011002
    assert check_digit("00000") == "1"  # S = 0: 11 - 0 = 11 → 1
    assert check_digit("20000") == "0"  # S = 12, remainder 1: 11 - 1 = 10 → 0


def test_a_five_digit_code_gets_its_check_digit() -> None:
    assert normalize_municipality_code("13101") == "131016"
    assert normalize_municipality_code("17201") == "172014"
    assert normalize_municipality_code("99999") == "999997"


def test_a_six_digit_code_with_the_right_check_digit_is_returned() -> None:
    assert normalize_municipality_code("172022") == "172022"
    assert normalize_municipality_code(" 131016 ") == "131016"


def test_an_int_regains_its_leading_zero() -> None:
    assert normalize_municipality_code(1101) == "011011"
    assert normalize_municipality_code(17201) == "172014"
    assert normalize_municipality_code(172014) == "172014"


def test_a_wrong_check_digit_is_refused_naming_the_right_one() -> None:
    with pytest.raises(ValueError, match=r"check digit 5, expected 4 \(172014\)"):
        normalize_municipality_code("172015")


@pytest.mark.parametrize(
    "code", ["1720", "1720145", "", "1720a", "17-201", "１７２０１", "17201.0"]
)
def test_a_malformed_string_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="municipality code"):
        normalize_municipality_code(code)


@pytest.mark.parametrize("code", [-17201, 1720145, True])
def test_an_unusable_int_is_refused(code: int) -> None:
    with pytest.raises(ValueError, match="municipality code"):
        normalize_municipality_code(code)


def test_check_digit_refuses_anything_but_five_digits() -> None:
    with pytest.raises(ValueError):
        check_digit("1720")
