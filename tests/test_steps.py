"""`Steps`, the run's heap size per event kept as its grow points, reads like the array it replaces."""

from array import array

import pytest

from pyfrag.steps import Steps


def expanded(at, values, n):
    out = []
    for k, a in enumerate(at):
        end = at[k + 1] if k + 1 < len(at) else n
        out += [values[k]] * (max(min(end, n), a) - a)
    return out


CASES = [([0], [7], 1), ([0], [7], 5), ([0, 3, 4], [1, 2, 3], 9), ([0, 1, 8], [5, 6, 9], 9),
         ([0, 2], [4, 8], 2), ([0], [3], 0)]


@pytest.mark.parametrize("at, values, n", CASES)
def test_steps_read_like_the_array_they_stand_for(at, values, n):
    want = array("q", expanded(at, values, n))
    s = Steps(at, values, n)
    assert len(s) == n and list(s) == list(want) and s.tolist() == want.tolist()
    assert s.tobytes() == want.tobytes() and s == want and s[:] == want
    for i in range(-n, n):
        assert s[i] == want[i]
    for sl in (slice(1, 3), slice(2, None), slice(None, -1), slice(None, None, 2),
               slice(None, None, -1), slice(5, 1), slice(-100, 100)):
        got = s[sl]
        assert got.typecode == "q" and got == want[sl], sl
    if n:
        assert max(s) == max(want)
    with pytest.raises(IndexError):
        s[n]
    with pytest.raises(IndexError):
        s[-n - 1]


def test_a_stitched_array_takes_a_slice_of_steps():
    out = array("q", [1])
    out.extend(Steps([0, 2], [4, 8], 4)[1:])        # array.extend wants the same typecode
    assert list(out) == [1, 4, 8, 8]


def test_repeated_points_keep_the_last_value_and_equal_steps_merge():
    # two growths at event 0 (the log of one event that grew twice), a step that
    # changes nothing, and a point past the end
    s = Steps([0, 0, 2, 3, 9], [1, 2, 2, 5, 6], 5)
    assert list(s) == [2, 2, 2, 5, 5]
    assert (list(s.at), list(s.values)) == ([0, 3], [2, 5])
    assert s == Steps([0, 3], [2, 5], 5) and s != Steps([0, 3], [2, 5], 6)


def test_changes_are_the_events_where_the_value_moves():
    s = Steps([0, 3, 4], [1, 2, 1], 6)
    assert s.changes(before=1) == [3, 4]
    assert s.changes(before=0) == [0, 3, 4]


def test_steps_must_start_at_event_zero():
    with pytest.raises(ValueError, match="event 0"):
        Steps([2], [1], 4)


def test_first_difference_of_two_steps_is_the_first_event_their_arrays_differ():
    """Compared at change points only, yet the same answer as an event-by-event look."""
    pairs = [(a, b) for a in CASES for b in CASES] + [
        (([0, 3], [1, 2], 9), ([0, 4], [1, 2], 9)),        # the same values, one grows later
        (([0, 3, 5], [1, 2, 1], 9), ([0], [1], 9)),        # differs between equal ends
    ]
    for (at, values, n), (at2, values2, n2) in pairs:
        a, b = Steps(at, values, n), Steps(at2, values2, n2)
        for m in range(min(n, n2) + 1):
            want = next((i for i in range(m) if a[i] != b[i]), m)
            assert a.first_difference(b, m) == want, (at, values, at2, values2, m)
