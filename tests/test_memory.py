"""Linear memory: page arithmetic, grow semantics, limits."""

import pytest

from pyfrag.memory import LIMITS, PAGE, Memory, pages_for, resolve_limit


def test_grow_returns_old_size_and_moves_byte_length():
    m = Memory(2, maximum=10)
    assert m.byte_length == 2 * PAGE
    assert m.grow(3) == 2
    assert m.pages == 5 and m.byte_length == 5 * PAGE
    assert m.grow(0) == 5


def test_grow_past_maximum_returns_minus_one_and_changes_nothing():
    m = Memory(1, maximum=4)
    assert m.grow(4) == -1
    assert m.pages == 1
    assert m.grow(3) == 1
    assert m.grow(1) == -1
    assert m.grow_calls == 3


def test_negative_delta_fails_like_a_huge_unsigned_one():
    m = Memory(1, maximum=4)
    assert m.grow(-1) == -1 and m.pages == 1


@pytest.mark.parametrize("limit,pages", [("2gib", 32768), ("4gib", 65536), ("512mib", 8192),
                                         ("wasm32", 65536), (100, 100), ("100", 100),
                                         ("1kib", 1)])
def test_limits(limit, pages):
    assert resolve_limit(limit) == pages


def test_bad_limits_are_named():
    with pytest.raises(ValueError, match="unknown memory limit 'lots'"):
        resolve_limit("lots")
    with pytest.raises(ValueError, match="past the wasm32 limit"):
        Memory(1, maximum=65537)
    with pytest.raises(ValueError, match="initial pages 5"):
        Memory(5, maximum=4)


def test_memory64_allows_more_than_4gib():
    m = Memory(1, maximum="memory64", memory64=True)
    assert m.maximum == LIMITS["memory64"] > 65536
    assert m.grow(70000) == 1


def test_pages_for_rounds_up():
    assert pages_for(0) == 0 and pages_for(1) == 1 and pages_for(PAGE) == 1
    assert pages_for(PAGE + 1) == 2


def test_the_memory64_limit_implies_a_64_bit_memory():
    m = Memory(1, maximum="memory64")
    assert m.memory64 and m.maximum == LIMITS["memory64"]
