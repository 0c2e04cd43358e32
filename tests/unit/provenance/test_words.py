"""Raw register words explain the energy (certification.provenance.words_explain)."""

from __future__ import annotations

from certification.provenance import words_explain


def test_big_and_little_endian_words_with_a_scale_factor() -> None:
    """583·65536 + 16830 = 38,224,318; the same words reversed; × 10^1; × 10^-1 exactly."""
    assert words_explain(38_224_318, [583, 16_830], 0) == "big-endian words × 10^0"
    assert words_explain(38_224_318, [16_830, 583], None) == "little-endian words × 10^0"
    assert words_explain(382_243_180, [583, 16_830], 1) == "big-endian words × 10^1"
    assert words_explain(3_822_431, [583, 16_830], -1) is None  # 38,224,318 / 10 is not whole
    assert words_explain(3_822_432, [583, 16_832], -1) == "big-endian words × 10^-1"


def test_words_that_do_not_give_the_energy() -> None:
    """A float or multiplied register, or no words at all: None."""
    assert words_explain(1_000, [0x447A, 0x0000], 0) is None  # 1000.0 as float32
    assert words_explain(1_000, [], 0) is None
