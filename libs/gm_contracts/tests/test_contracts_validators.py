"""Resident id (GB 11643-1999), region code, id masking and RFC 3339 timestamps."""
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gm_contracts.validators import (
    format_rfc3339,
    is_canonical_uuid,
    is_rfc3339,
    is_valid_region_code,
    is_valid_resident_id,
    mask_id_number,
    normalize_resident_id,
    parse_rfc3339,
    resident_id_check_char,
    resident_id_problem,
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(first17: str) -> str:
    """A valid resident id, computed here independently of the library."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


class TestResidentId:
    def test_published_example_is_valid(self):
        assert is_valid_resident_id("11010519491231002X")
        assert resident_id_check_char("11010519491231002") == "X"

    def test_lowercase_x_is_accepted_and_normalised(self):
        assert is_valid_resident_id("11010519491231002x")
        assert normalize_resident_id("11010519491231002x") == "11010519491231002X"

    @pytest.mark.parametrize("first17", ["41061119800101123", "44030419991231000", "65010120000229987"])
    def test_ids_computed_from_the_algorithm_are_valid(self, first17):
        valid = resident_id(first17)
        assert is_valid_resident_id(valid)
        assert resident_id_check_char(first17) == valid[-1]

    def test_every_wrong_check_digit_is_rejected(self):
        valid = resident_id("41061119800101123")
        for char in "0123456789X":
            if char != valid[-1]:
                assert resident_id_problem(valid[:17] + char) == "Check digit does not match."

    @pytest.mark.parametrize("birth", ["19800230", "19801301", "19800100", "20230229", "00000101"])
    def test_birth_date_must_be_a_real_date(self, birth):
        candidate = resident_id("410611" + birth + "123")
        assert resident_id_problem(candidate) == "Birth date (characters 7-14) is not a real date."

    def test_leap_day_is_a_real_date(self):
        assert is_valid_resident_id(resident_id("41061120000229123"))

    @pytest.mark.parametrize("value", [
        "", "11010519491231002", "11010519491231002XX", "1101051949123100X2", "11010519491231002Y",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits are digits to str.isdigit, not to us
        "11010519491231002X\n", " 11010519491231002X", None, 110105194912310020, ["11010519491231002X"],
    ])
    def test_malformed_ids_are_rejected(self, value):
        assert not is_valid_resident_id(value)
        assert resident_id_problem(value)

    def test_normalize_rejects_invalid(self):
        with pytest.raises(ValueError):
            normalize_resident_id("110105194912310021")

    def test_check_char_needs_17_ascii_digits(self):
        for bad in ("1234", "1101051949123100X", "１１０１０５１９４９１２３１００２"):
            with pytest.raises(ValueError):
                resident_id_check_char(bad)

    @given(st.from_regex(r"\A[0-9]{6}\Z"), st.dates(date(1900, 1, 1), date(2099, 12, 31)),
           st.from_regex(r"\A[0-9]{3}\Z"))
    def test_exactly_one_check_char_fits(self, address, birth, sequence):
        first17 = address + birth.strftime("%Y%m%d") + sequence
        fits = [c for c in "0123456789X" if is_valid_resident_id(first17 + c)]
        assert fits == [resident_id(first17)[-1]]


class TestRegionCode:
    @pytest.mark.parametrize("code", ["410611", "410611001", "410611001002"])
    def test_6_9_12_digits(self, code):
        assert is_valid_region_code(code)

    @pytest.mark.parametrize("code", ["", "41061", "4106110", "41061100", "4106110010", "4106110010020",
                                      "41061a", "410611\n", "٤١٠٦١١", " 410611", 410611, None])
    def test_other_shapes_are_rejected(self, code):
        assert not is_valid_region_code(code)


class TestMask:
    def test_keeps_first_and_last_four(self):
        assert mask_id_number("11010519491231002X") == "1101**********002X"

    def test_short_values_are_masked_entirely(self):
        assert mask_id_number("12345678") == "********"
        assert mask_id_number("") == ""

    def test_none_passes_through(self):
        assert mask_id_number(None) is None

    @given(st.text(min_size=9, max_size=40))
    def test_mask_keeps_length_and_hides_the_middle(self, value):
        masked = mask_id_number(value)
        assert len(masked) == len(value)
        assert masked[:4] == value[:4] and masked[-4:] == value[-4:]
        assert set(masked[4:-4]) == {"*"}


class TestRfc3339:
    @pytest.mark.parametrize("value, expected", [
        ("2026-01-31T08:00:00Z", datetime(2026, 1, 31, 8, tzinfo=timezone.utc)),
        ("2026-01-31t08:00:00z", datetime(2026, 1, 31, 8, tzinfo=timezone.utc)),
        ("2026-01-31T16:00:00+08:00", datetime(2026, 1, 31, 8, tzinfo=timezone.utc)),
        ("2026-01-31T03:00:00.5-05:00", datetime(2026, 1, 31, 8, 0, 0, 500000, tzinfo=timezone.utc)),
        ("2026-01-31T08:00:00.123456789Z", datetime(2026, 1, 31, 8, 0, 0, 123456, tzinfo=timezone.utc)),
    ])
    def test_valid(self, value, expected):
        assert parse_rfc3339(value) == expected
        assert is_rfc3339(value)

    @pytest.mark.parametrize("value", [
        "2026-01-31T08:00:00", "2026-01-31", "2026-01-31 08:00:00Z", "2026-02-30T08:00:00Z",
        "2026-01-31T24:00:00Z", "2026-01-31T08:00:60Z", "2026-01-31T08:00:00+24:00", "20260131T080000Z",
        "2026-01-31T08:00:00Z\n", "2026-01-31T08:00:00.Z", "0001-01-01T00:00:00+01:00", "", None, 1700000000,
    ])
    def test_invalid(self, value):
        assert parse_rfc3339(value) is None
        assert not is_rfc3339(value)

    def test_format_is_utc_with_z_and_round_trips(self):
        moment = datetime(2026, 1, 31, 16, 0, 0, 123, tzinfo=timezone(timedelta(hours=8)))
        text = format_rfc3339(moment)
        assert text == "2026-01-31T08:00:00.000123Z"
        assert parse_rfc3339(text) == moment

    def test_format_refuses_naive(self):
        with pytest.raises(ValueError):
            format_rfc3339(datetime(2026, 1, 31))


def test_canonical_uuid():
    assert is_canonical_uuid("0B6F4C1E-2A3D-4E5F-8A9B-0C1D2E3F4A5B")
    for bad in ("0b6f4c1e2a3d4e5f8a9b0c1d2e3f4a5b", "{0b6f4c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b}",
                "urn:uuid:0b6f4c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", "0b6f4c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b\n", None):
        assert not is_canonical_uuid(bad)
