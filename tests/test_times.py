"""Event time as the rollups store it: microseconds and their two text forms."""

from __future__ import annotations

from datetime import datetime

from blueskypipe.times import MICROS_PER_DAY, micros, minute_text, timestamp_text


def test_text_forms_pad_early_years() -> None:
    assert timestamp_text(MICROS_PER_DAY * 2 + 1) == "0001-01-02T00:00:00.000001"
    assert minute_text(MICROS_PER_DAY * 2 + 1) == "0001-01-02 00:00"


def test_any_iso_form_of_a_time_has_the_same_minute() -> None:
    forms = ["2025-03-16T13:26:53.5", "20250316T132653.5", "2025-03-16 13:26:53.500000+05:00"]
    at = {micros(datetime.fromisoformat(form)) for form in forms}
    assert len(at) == 1
    (one,) = at
    assert minute_text(one) == "2025-03-16 13:26"
    assert timestamp_text(one) == "2025-03-16T13:26:53.500000"
