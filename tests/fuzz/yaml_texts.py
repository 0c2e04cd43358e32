"""Hypothesis strategies for YAML texts: well-formed documents of plausible and wrong values,
random text, and the hostile shapes (deep nesting, aliases of aliases, huge numbers)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["1e999999", "-0", "0x10", "2026-02-30", "NaN", ".inf", "~", "\x00", "é"]),
    st.dates().map(str),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def hostile() -> st.SearchStrategy[str]:
    laughs = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    return st.one_of(
        st.integers(33, 20_000).map(lambda n: "[" * n + "]" * n),
        st.integers(33, 300).map(lambda n: "".join(f"{' ' * (2 * i)}k{i}:\n" for i in range(n))),
        st.just(laughs),
        st.text(max_size=400),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.sampled_from(
            ["", "---\n---\n", "a: !!python/object/apply:os.system [ls]", "? [a]\n: 1"]
        ),
    )
