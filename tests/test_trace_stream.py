"""Streaming trace readers (issue 10): read in pieces, fast blocks, the same result.

Every format read the streaming way (small pieces, the fast block path on) must
give exactly what the line-by-line reading of the whole text gives: the same
events, tags, names, line numbers, or the same error. Also: pieces cut mid-line,
CRLF files, no final newline, what the fast path must decline, `Lines`.
"""

from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyfrag import scenarios
from pyfrag.trace import Trace, TraceError, dump, dumps, jsonl, load, loads, rep, stream, text
from pyfrag.trace.lines import Lines
from test_fuzz import fuzz     # benchmarks/fuzz.py's generators, loaded once


SLICE = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextmanager
def line_by_line():
    """The readers with the fast path off and the input in one piece: the
    whole-file, one-line-at-a-time reading every error message comes from."""
    never = mock.Mock(return_value=False)
    with mock.patch.object(text, "events", never), mock.patch.object(rep, "events", never), \
            mock.patch.object(jsonl, "events", never), mock.patch.object(stream, "CHUNK", 1 << 30):
        yield


@contextmanager
def small_pieces(chunk=7, small=16):
    with mock.patch.object(stream, "CHUNK", chunk), mock.patch.object(stream, "SMALL", small):
        yield


def outcome(read):
    """Everything a read gives, comparable: the trace's contents or the error."""
    try:
        t = read()
    except TraceError as e:
        return ("error", str(e), e.file, e.line)
    rec = t.recorded
    return (list(t.ops), list(t.ids), list(t.sizes), t.aligns, t.tags, list(t.lines),
            [t.where(i) for i in range(len(t))], t.name, t.description, t.maximum, t.skipped,
            rec and (list(rec.addresses), list(rec.memory_bytes), rec.heap_base,
                     rec.initial_pages, rec.module, rec.allocator))


def both(content, fmt):
    """The line-by-line reading, and the first streamed one that differs from it (or the last):
    a line or so a piece, blocks of lines, and blocks read by numpy from the first event on
    (where numpy is installed; a big trace's blocks are)."""
    with line_by_line():
        whole = outcome(lambda: loads(content, fmt, source="t"))
    for chunk, small, vectorised in ((7, 16, None), (300, 60, None), (300, 60, 0)):
        with small_pieces(chunk, small), \
                mock.patch.object(stream, "VECTORISED", stream.VECTORISED if vectorised is None else vectorised):
            streamed = outcome(lambda: loads(content, fmt, source="t"))
        if streamed != whole:
            break
    return whole, streamed


@pytest.mark.parametrize("fmt", fuzz.WRITABLE)
@SLICE
@given(trace=fuzz.strategy(lambda src: fuzz.gen_trace(src, 40)))
def test_streaming_reads_every_written_trace_as_line_by_line(fmt, trace):
    try:
        content = dumps(trace, fmt)
    except TraceError:
        return                          # a string JSON cannot carry: refused on writing
    whole, streamed = both(content, fmt)
    assert streamed == whole


@SLICE
@given(case=fuzz.strategy(fuzz.gen_mutated))
def test_streaming_gives_the_same_trace_or_error_on_mutated_files(case):
    fmt, content = case
    whole, streamed = both(content, fmt)
    assert streamed == whole


NEAR = [  # lines near the canonical forms of each format
    "a 1 2", "f 1", "r 1 3", "a -0 0", "a 01 2", "a 1 -2", "5a 1 2", "a1 2", "f 1 2", "a 1",
    "a  1 2", "a 1 2 ", " a 1 2", "A 1 2", "a 99999999999999999999 1", "a 1 281474976710656",
    "a 1 281474976710655", "a 9223372036854775807 1", "a -9223372036854775808 1",
    "a 9223372036854775808 1", "a 1 2 tag=x", "# comment", "", "f -1", "a 1_0 2", "a 0x10 2",
    "a 1 00", "r 1-2 3", "a 1 --2", "a - 2", "1", "20", "\ra 1 2", "\ta 1 2", "a 1 2\x0c",
    '{"op": "alloc", "id": 1, "size": 2}', '{"op": "free", "id": 1}',
    '{"op": "free", "id": 1, "size": 2}', '{"op": "alloc", "id": 1}',
    '{"op": "realloc", "id": -3, "size": 0}', '{"op": "alloc", "id": 1 2}',
    '{"op": "alloc", "id": 01, "size": 2}', '{"op": "alloc", "id": 1, "size": 2} ',
    '{"op": "alloc", "id": 1, "size": -2}', '{"op": "alloc", "id": 1, "size": 2, "size": 3}',
    '{"op": "alloc", "id": 1, "size": 2, "tag": "x"}', '{"trace": "t"}',
    'a {"op": "free", "id": 1}',
    '{"op": "alloc", "id": 1, "size": 2}}', '{"op": "alloc", "id": {"op": "free", "id": 1}}']
GOOD = {"pyfrag": ["a 1 2", "f 1"], "rep": ["1", "1", "3", "1", "a 1 2", "f 1"],
        "jsonl": ['{"op": "alloc", "id": 1, "size": 2}', '{"op": "free", "id": 1}']}


@pytest.mark.parametrize("fmt", fuzz.WRITABLE)
@pytest.mark.parametrize("line", NEAR)
def test_fast_blocks_decline_what_the_line_reader_reads_otherwise(fmt, line):
    """One line near a canonical form among plain ones: the fast path takes exactly
    what reads the same, and leaves the rest (and its error) to the line reader."""
    for newline in ("\n", "\r\n"):
        content = newline.join(GOOD[fmt] + [line] + GOOD[fmt][-2:] * 3) + newline
        whole, streamed = both(content, fmt)
        assert streamed == whole


@SLICE
@given(lines=st.lists(st.sampled_from(NEAR), max_size=30),
       fmt=st.sampled_from(fuzz.WRITABLE), last=st.booleans())
def test_streaming_reads_any_mix_of_near_lines_as_line_by_line(lines, fmt, last):
    content = "\n".join(lines) + ("\n" if last else "")
    whole, streamed = both(content, fmt)
    assert streamed == whole


def test_a_plain_trace_is_read_in_blocks_with_its_lines_as_one_run():
    t = scenarios.random_trace(3000, seed=2, align_rate=0)
    for fmt in fuzz.WRITABLE:
        back = loads(dumps(t, fmt), fmt, source="x")
        assert (back.ops, back.sizes) == (t.ops, t.sizes), fmt
        assert len(back.lines.starts) == 1, fmt        # no line went one by one
        first = {"pyfrag": 4, "jsonl": 2, "rep": 5}[fmt]   # after the header
        assert back.where(0) == f"x:{first}" and back.where(2999) == f"x:{first + 2999}"


@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 20])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("final", [True, False])
def test_files_read_in_pieces_of_any_size_as_whole(tmp_path, chunk, newline, final):
    """A line cut at a piece's edge, CRLF and old-Mac line ends, no final newline:
    the same trace and line numbers as reading the whole text."""
    t = scenarios.swiss_cheese(40)
    body = dumps(t, "pyfrag").replace("tag=temp", "") + "\n# a comment\n\nf 80\na 81 7 tag=x\n"
    body = body.replace("\n", newline)
    body = body if final else body.rstrip(newline)
    path = tmp_path / "t.trace"
    path.write_bytes(body.encode())
    with line_by_line():
        whole = outcome(lambda: loads(body, None, source=str(path)))
    with small_pieces(chunk, small=8):
        assert outcome(lambda: load(path)) == whole
    assert whole[5][-1] == len(body.splitlines())     # the last line is an event


def test_an_error_names_its_line_from_any_piece(tmp_path):
    path = tmp_path / "t.trace"
    path.write_text("a 1 2\n" * 5000 + "a 1 two\n" + "f 1\n" * 10)
    with small_pieces(1000, small=100), pytest.raises(TraceError) as e:
        load(path)
    assert (e.value.line, e.value.file) == (5001, str(path))
    assert "size must be an integer, got 'two'" in str(e.value)


def test_a_file_that_is_not_text_says_so_before_any_bad_line(tmp_path):
    """The whole file used to be decoded first: a bad byte past a bad line still wins."""
    path = tmp_path / "t.trace"
    path.write_bytes(b"a 1 x\n" + b"a 1 2\n" * 100 + b"\xff\n")
    with small_pieces(64, small=8), pytest.raises(TraceError) as e:
        load(path)
    assert "not a text file (invalid start byte at byte 606)" in str(e.value)


def test_a_line_longer_than_a_piece_and_a_multibyte_character_across_reads(tmp_path):
    t = Trace("naïve " * 50)
    t.alloc(1, 10, tag="é" * 300).free(1)
    path = tmp_path / "t.trace"
    dump(t, path)
    with small_pieces(3, small=4):
        back = load(path)
    assert list(back) == list(t) and back.name == t.name


def test_detection_reads_on_past_a_first_piece_of_comments(tmp_path):
    path = tmp_path / "t.log"
    path.write_text("# x\n" * 50 + "--7-- malloc(8) = 0x10\n")
    with small_pieces(16):
        t = load(path)
    assert [str(e) for e in t] == ["alloc 0 8"] and t.where(0) == f"{path}:51"


def test_lines_keeps_runs_and_answers_every_index():
    lines = Lines()
    numbers = [3, 4, 5, 9, 10, 20, 21, 22, 23, 2]
    for n in numbers:
        lines.append(n)
    lines.run(100, 0)
    lines.run(3, 4)
    numbers += [3, 4, 5, 6]
    assert len(lines) == len(numbers) and list(lines) == numbers
    assert [lines[i] for i in range(len(numbers))] == numbers
    assert lines[-1] == 6 and len(lines.starts) == 4     # 2 then 3..6 is one run
    with pytest.raises(IndexError):
        lines[len(numbers)]


@pytest.mark.parametrize("fmt", fuzz.WRITABLE)
def test_writers_give_pieces_that_make_the_same_file(tmp_path, fmt):
    t = scenarios.random_trace(500, seed=3, align_rate=0.2)
    t.tags.update({i: f"tag {i}" for i in range(0, 500, 7) if t.ops[i] != 1})
    whole = dumps(t, fmt)
    with mock.patch.object(stream, "BATCH", 7):
        pieces = list({"pyfrag": text, "jsonl": jsonl, "rep": rep}[fmt].write(t))
        dump(t, tmp_path / "t", fmt)
    assert len(pieces) > 50 and "".join(pieces) == whole
    assert (tmp_path / "t").read_text() == whole
    back = load(tmp_path / "t", fmt)
    assert (back.ops, back.sizes) == (t.ops, t.sizes)


def test_a_character_utf8_cannot_hold_is_named_where_it_is_and_no_file_is_left(tmp_path):
    t = scenarios.random_trace(100, seed=1)
    t.maximum = "5\ud800"            # set in code: the reader would refuse it
    at = dumps(t).index("\ud800")
    with mock.patch.object(stream, "BATCH", 3), pytest.raises(TraceError) as e:
        dump(t, tmp_path / "t.trace")
    assert f"cannot be written as UTF-8 (surrogates not allowed at character {at})" in str(e.value)
    assert list(tmp_path.iterdir()) == []
