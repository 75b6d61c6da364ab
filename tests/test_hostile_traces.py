"""Hostile trace files (issue 13): every reader and `convert` fail cleanly and drop nothing.

Owns one test per numbered case of the issue that concerns trace files: the
valgrind log's realloc(NULL) and split large-block lines and several processes
(1-3), JSON lines too deep or with too long integers (4), bad maxima and
alignments naming file:line (9), files without events (10), quoted input cut
short (11), and `convert` escaping tags and names and never leaving a partial
file (12). Each bad input goes through the command line too: exit 2, no
traceback.
"""

import subprocess
import sys

import pytest

from pyfrag.trace import ALLOC, FREE, REALLOC, Trace, TraceError, dump, dumps, load, loads
from pyfrag.trace.fields import SHOWN


def pyfrag(*args):
    return subprocess.run([sys.executable, "-m", "pyfrag", *map(str, args)],
                          capture_output=True, text=True)


def assert_clean_exit_2(path, *extra, message):
    r = pyfrag("run", path, "-a", "bump", *extra)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    assert message in r.stderr, r.stderr[-2000:]
    return r


# -- 1-3: valgrind logs ------------------------------------------------------

def test_1_realloc_of_null_is_a_malloc():
    log = ("--7-- realloc(0x0,24)malloc(24) = 0x4B1B0D0\n"
           "--7-- realloc(0x4B1B0D0,48) = 0x4B1B100\n"
           "--7-- free(0x4B1B100)\n"
           "--7-- realloc(0x0,4611686018427387904)malloc(4611686018427387904) = 0x0\n")
    t = loads(log, "valgrind")
    assert [str(e) for e in t] == ["alloc 0 24", "realloc 0 48", "free 0"]
    assert t.skipped == 1                          # the failed huge realloc(NULL)
    assert not t.replay("bump").issues             # the free finds its block


def test_2_a_large_malloc_split_by_a_warning_is_read():
    log = ("--9452-- malloc(314572800)Warning: set address range perms: large range "
           "[0x4e40040, 0x17a40040) (undefined)\n"
           "--9452--  = 0x4E40040\n"
           "--9452-- calloc(1,314572800)Warning: set address range perms: large range "
           "[0x17a41040, 0x2a641040) (defined)\n"
           "--9452--  = 0x17A41040\n"
           "--9452-- realloc(0x4E40040,419430400)Warning: set address range perms: large "
           "range [0x4e40028, 0x17a40058) (noaccess)\n"
           "--9452--  = 0x2A642040\n"
           "--9452-- free(0x2A642040)\n"
           "--9452-- free(0x17A41040)\n")
    t = loads(log, "valgrind", source="big.log")
    assert [str(e) for e in t] == ["alloc 0 314572800", "alloc 1 314572800",
                                   "realloc 0 419430400", "free 0", "free 1"]
    assert t.where(0) == "big.log:1" and t.skipped == 0


FORKED = ("==100== Memcheck\n"
          "--100-- malloc(10) = 0x4A40040\n"
          "--101-- malloc(33) = 0x4A40090\n"
          "--101-- free(0x4A40090)\n"
          "--100-- malloc(20) = 0x4A40090\n"
          "--100-- free(0x4A40040)\n"
          "--100-- free(0x4A40090)\n")


def test_3_processes_are_kept_apart(tmp_path):
    with pytest.raises(TraceError, match=r"holds 2 processes, PIDs 100 \(4 calls\), "
                                         r"101 \(2 calls\): choose one with --pid"):
        loads(FORKED, "valgrind")
    parent = loads(FORKED, "valgrind", pid=100)
    assert [str(e) for e in parent] == ["alloc 0 10", "alloc 1 20", "free 0", "free 1"]
    assert "PIDs 101" in parent.description
    child = loads(FORKED, "valgrind", pid=101)
    assert [str(e) for e in child] == ["alloc 0 33", "free 0"]
    with pytest.raises(TraceError, match=r"no process 5 in the log \(PIDs: 100"):
        loads(FORKED, "valgrind", pid=5)
    many = "".join(f"--{p}-- malloc(8) = 0x10\n" for p in range(1, 31))
    with pytest.raises(TraceError, match=r"30 processes, PIDs 1 \(1 call\), .*10 \(1 call\) "
                                         r"and 20 more: choose one"):
        loads(many, "valgrind")
    with pytest.raises(TraceError, match="applies to valgrind logs"):
        loads("a 1 1\n", "pyfrag", pid=1)
    path = tmp_path / "forked.log"
    path.write_text(FORKED)
    assert_clean_exit_2(path, message="choose one with --pid")
    r = pyfrag("run", path, "-a", "bump", "--pid", "101")
    assert r.returncode == 0 and "2 events" in r.stdout, r.stderr


# -- 4: JSON lines ---------------------------------------------------------------

@pytest.mark.parametrize("line,message", [
    ("[" * 100_000, "nested too deeply"),
    ('{"op": "alloc", "id": 1, "size": ' + "7" * 5000 + "}", "4300 digits"),
], ids=["deep", "long-int"])
def test_4_json_lines_that_python_cannot_hold(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(TraceError, match=message):
        load(path)
    assert_clean_exit_2(path, message=f"{path}:1: not a usable JSON value")


# -- 9: every bad maximum and alignment names file:line ---------------------------

@pytest.mark.parametrize("name,text,line", [
    ("banana.trace", "# maximum: banana\na 1 10\n", 1),
    ("zero.trace", "a 1 10\n# maximum: 0\n", 2),
    ("minus.trace", "# maximum: -1\na 1 10\n", 1),
    ("minus.jsonl", '{"trace": "t", "maximum": -5}\n{"op": "free", "id": 1}\n', 1),
    ("list.jsonl", '{"trace": "t", "maximum": [1]}\n{"op": "free", "id": 1}\n', 1),
    ("align.log", "--1-- memalign(al x3, size 100) = 0x4A40200\n", 1),
    ("align2.log", "--1-- memalign(size 100) = 0x4A40200\n", 1),
])
def test_9_bad_maximum_and_alignment_name_file_and_line(tmp_path, name, text, line):
    path = tmp_path / name
    path.write_text(text)
    assert_clean_exit_2(path, message=f"{path}:{line}: ")


def test_9_valgrind_memalign_rounds_the_alignment_up_like_valgrind():
    t = loads("--1-- memalign(al 3, size 100) = 0x4A40200\n", "valgrind")
    assert t[0].align == 4


def test_9_good_maxima_are_kept_as_written():
    assert loads("# maximum: 512mib\na 1 1\n").maximum == "512mib"
    assert loads("# maximum: 20\na 1 1\n").maximum == 20
    assert loads('{"trace": "t", "maximum": 20}\n{"op": "free", "id": 1}\n').maximum == 20


# -- 10: a trace with no events is an error in every format -------------------------

@pytest.mark.parametrize("name,text,found", [
    ("empty.log", "", "the input is empty"),
    ("empty.trace", "", "the input is empty"),
    ("empty.jsonl", "", "the input is empty"),
    ("blank.trace", "\n  \n", "only blank lines"),
    ("junk.log", "==12== junk\n" * 5000, "5000 lines read as valgrind, none of "
                                         "them a --trace-malloc=yes allocator call"),
    ("header.trace", "# pyfrag trace v1\n# name: x\n", "none of them an event"),
    ("header.jsonl", '{"trace": "x"}\n', "none of them an event"),
    ("header.rep", "0\n0\n0\n1\n", "only the 4-line header"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_10_no_events_is_an_error_saying_what_was_found(tmp_path, name, text, found):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TraceError, match="no allocation events"):
        load(path)
    assert_clean_exit_2(path, message=found)


@pytest.mark.parametrize("text,found", [
    ("", "the input is empty"),
    ("\n  \n", "only blank lines"),
    ("# just a comment\n\n# and another\n", "3 lines read as pyfrag, none of them "
                                             "an event (first: '# just a comment')"),
    ("==12== junk\n" * 5000, "5000 lines read as valgrind"),
], ids=["empty", "blank", "comments", "junk-log"])
def test_10_a_pipe_without_events_says_what_it_held(text, found):
    """A pipe cannot be read twice: what it held is noted as it is read (once)."""
    r = subprocess.run([sys.executable, "-m", "pyfrag", "run", "/dev/stdin", "-a", "bump"],
                       input=text, capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"/dev/stdin: no allocation events: {found}" in r.stderr, r.stderr


# -- 11: quoted input is cut to a readable length --------------------------------

@pytest.mark.parametrize("name,text", [
    ("long.trace", "a 1 " + "x" * 1_000_000 + "\n"),
    ("long2.trace", "z" * 1_000_000 + "\n"),
    ("long.rep", "1\n1\n1\n1\nq" + "q" * 1_000_000 + " 1\n"),
    ("long.jsonl", '{"op": "alloc", "id": "' + "x" * 1_000_000 + '", "size": 1}\n'),
    ("long.log", "--1-- memalign(" + "x" * 1_000_000 + ") = 0x10\n"),
], ids=["trace-size", "trace-event", "rep", "jsonl", "log"])
def test_11_bad_tokens_are_cut(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    r = assert_clean_exit_2(path, message=f"{path}:")
    assert len(r.stderr) < len(str(path)) + 400 + 2 * SHOWN
    assert "characters)" in r.stderr


# -- 12: convert escapes tags and names, and leaves no partial file -----------------

def hostile_trace():
    t = Trace('name with spaces\n# maximum: 1', "desc\u2028ription", maximum="512mib")
    t.alloc(1, 10, tag="x\na 3 999999").alloc(2, 20, 64, tag="two words")
    t.alloc(3, 30, tag='"quoted"').realloc(1, 40, tag="tab\there").alloc(4, 5, tag="a=b")
    t.alloc(5, 1, tag="\ud800").free(2)
    return t


@pytest.mark.parametrize("fmt", ["pyfrag", "jsonl"])
def test_12_tags_and_names_round_trip(fmt):
    t = hostile_trace()
    back = loads(dumps(t, fmt), fmt)
    assert list(back) == list(t)
    assert (back.name, back.description, back.maximum) == (t.name, t.description, t.maximum)


def test_12_convert_through_the_command_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(dumps(hostile_trace(), "jsonl"))
    out = tmp_path / "out.trace"
    r = pyfrag("convert", src, out)
    assert r.returncode == 0, r.stderr
    back = load(out)
    assert list(back) == list(hostile_trace())
    assert [back.ops[i] for i in range(len(back))] == [ALLOC, ALLOC, ALLOC, REALLOC, ALLOC,
                                                      ALLOC, FREE]


def test_12_a_failed_convert_leaves_no_file(tmp_path):
    src = tmp_path / "in.trace"
    src.write_text("a 1 10\n")
    out = tmp_path / "out.log"                     # valgrind logs are read only
    r = pyfrag("convert", src, out)
    assert r.returncode == 2 and "can be read but not written" in r.stderr
    assert list(tmp_path.iterdir()) == [src]
    old = tmp_path / "keep.trace"
    old.write_text("a 9 9\n")
    r = pyfrag("convert", src, old, "--to", "nope")
    assert r.returncode == 2 and old.read_text() == "a 9 9\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.trace", "keep.trace"]


def test_12_a_tag_json_cannot_keep_is_refused_and_no_file_is_left(tmp_path):
    # a raw lone high surrogate next to an escaped low one (only a str, never a UTF-8
    # file, can hold it) reads as two code points, which JSON would merge into one
    t = loads('{"op": "alloc", "id": 1, "size": 8, "tag": "\ud800\\ude74"}\n', "jsonl")
    assert t[0].tag == "\ud800\ude74"
    for out in ("out.trace", "out.jsonl"):
        with pytest.raises(TraceError, match="the tag of event 0 .* cannot be written"):
            dump(t, tmp_path / out)
    assert list(tmp_path.iterdir()) == []


def test_fuzz_finding_a_5000_digit_pid_is_not_a_process():
    log = "--1-- malloc(8) = 0x10\n--" + "9" * 5000 + "-- malloc(8) = 0x20\n"
    t = loads(log, "valgrind")
    assert len(t) == 1 and t.skipped == 1
