import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from migration_app.validators import MOD11_WEIGHTS, orgnr_is_valid, validate_lowercase_code, validate_orgnr


@pytest.mark.parametrize(
    "orgnr",
    [
        "974761076",  # Skatteetaten
        "974760673",  # Brønnøysundregistrene
        "991825827",  # Digitaliseringsdirektoratet
        "889640782",  # NAV
    ],
)
def test_real_organisation_numbers_are_valid(orgnr):
    assert orgnr_is_valid(orgnr)
    validate_orgnr(orgnr)


@pytest.mark.parametrize(
    ("orgnr", "why"),
    [
        ("974761077", "wrong check digit"),
        ("97476107", "eight digits"),
        ("9747610760", "ten digits"),
        ("97476107a", "a letter"),
        ("９７４７６１０７６", "full-width digits"),
        ("", "empty"),
    ],
)
def test_invalid_organisation_numbers_are_refused(orgnr, why):
    assert not orgnr_is_valid(orgnr), why


def test_validator_names_the_value_and_allows_empty_for_test_orgs():
    validate_orgnr("")
    with pytest.raises(ValidationError) as excinfo:
        validate_orgnr("123456789")
    assert "123456789" in str(excinfo.value)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_exactly_one_check_digit_completes_eight_digits_unless_remainder_is_one(prefix):
    valid = [d for d in "0123456789" if orgnr_is_valid(prefix + d)]
    remainder = sum(int(d) * w for d, w in zip(prefix, MOD11_WEIGHTS, strict=True)) % 11
    assert len(valid) == (0 if remainder == 1 else 1)


def test_org_codes_must_be_lower_case():
    validate_lowercase_code("skd")
    with pytest.raises(ValidationError):
        validate_lowercase_code("SKD")
