"""Trace formats: round trips, detection, and errors that say where."""

import shutil
import subprocess

import pytest

from pyfrag.trace import ALLOC, FREE, REALLOC, Trace, TraceError, dump, dumps, load, loads


def sample():
    t = Trace("sample", "a small trace", maximum="512mib")
    t.alloc(1, 1024, tag="anchor").alloc(2, 100, align=64).realloc(1, 2048).free(2).free(1)
    return t


def same_events(a, b):
    return list(a.ops) == list(b.ops) and list(a.sizes) == list(b.sizes)


@pytest.mark.parametrize("fmt", ["pyfrag", "jsonl"])
def test_lossless_round_trip(fmt):
    t = sample()
    back = loads(dumps(t, fmt), fmt)
    assert list(back) == list(t)
    assert (back.name, back.description, str(back.maximum)) == ("sample", "a small trace", "512mib")


def test_rep_round_trip_keeps_events_and_renumbers_ids():
    t = Trace()
    t.alloc(7, 10).free(7).alloc(7, 20).realloc(7, 30).free(7)
    text = dumps(t, "rep")
    header = text.splitlines()[:4]
    assert header == ["30", "2", "5", "1"]       # peak live, ids, ops, weight
    back = loads(text, "rep")
    assert same_events(back, t)
    assert list(back.ids) == [0, 0, 1, 1, 1]


def test_detection_and_files(tmp_path):
    t = sample()
    for ext, fmt in ((".trace", "pyfrag"), (".jsonl", "jsonl"), (".rep", "rep")):
        path = tmp_path / f"x{ext}"
        dump(t, path)
        back = load(path)
        assert same_events(back, t), fmt
        assert back.where(0).startswith(str(path) + ":")


def test_rep_parses_the_lab_format():
    text = "20000\n2\n4\n1\na 0 512\na 1 128\nr 0 640\nf 1\n"
    t = loads(text)
    assert list(t.ops) == [ALLOC, ALLOC, REALLOC, FREE]
    assert list(t.sizes) == [512, 128, 640, 0]


@pytest.mark.parametrize("text,fmt,line,reason", [
    ("a 1 10\nf\n", "pyfrag", 2, "free takes exactly an id"),
    ("a 1 ten\n", "pyfrag", 1, "size must be an integer, got 'ten'"),
    ("a 1 -5\n", "pyfrag", 1, "size must be >= 0"),
    ("a 1 10 align=3\n", "pyfrag", 1, "align must be a power of two"),
    ("a 1 10 colour=red\n", "pyfrag", 1, "unknown field 'colour=red'"),
    ("\n\nz 1\n", "pyfrag", 3, "unknown event 'z'"),
    ("a 1 999999999999999999999\n", "pyfrag", 1, "larger than any memory"),
    ("a 9223372036854775808 16\n", "pyfrag", 1, "id must be <= 9223372036854775807"),
    ('{"op": "alloc", "id": 99999999999999999999999, "size": 1}\n', "jsonl", 1,
     "id must be <="),
    ("1\n1\n1\n1\na 99999999999999999999999 16\n", "rep", 5, "id must be <="),
    ('{"op": "alloc", "id": 1}\n', "jsonl", 1, "field 'size' must be an integer"),
    ('{"op": "grow", "id": 1}\n', "jsonl", 1, "field 'op' must be one of"),
    ('{"op": "free", "id": 1\n', "jsonl", 1, "not valid JSON"),
    ("1\n2\n3\n1\na 0 1\n", "rep", None, "header says 3 operations, the file has 1"),
    ("1\n2\n1\n1\nq 0 1\n", "rep", 5, "unknown operation 'q'"),
    ("1\n2\n", "rep", None, "header is incomplete"),
])
def test_malformed_input_names_file_line_and_reason(text, fmt, line, reason):
    with pytest.raises(TraceError) as e:
        loads(text, fmt, source="bad.txt")
    assert e.value.line == line and e.value.file == "bad.txt"
    assert reason in str(e.value)
    assert str(e.value).startswith("bad.txt" + (f":{line}" if line else ""))


def test_binary_file_is_a_trace_error(tmp_path):
    path = tmp_path / "x.trace"
    path.write_bytes(b"\x00\xff\xfe\x00garbage")
    with pytest.raises(TraceError, match="not a text file"):
        load(path)


def test_missing_file_is_a_trace_error(tmp_path):
    with pytest.raises(TraceError, match="No such file"):
        load(tmp_path / "absent.trace")


VALGRIND_LOG = """\
==1== Memcheck, a memory error detector
--1-- malloc(10) = 0x4A40040
--1-- calloc(3,8) = 0x4A40090
program output line
--1-- realloc(0x4A40040,100) = 0x4A400F0
--1-- memalign(al 64, size 100) = 0x4A40200
--1-- _Znwm(24) = 0x4A40300
--1-- free(0x4A40090)
--1-- free(0x0)
--1-- realloc(0x4A400F0,0)free(0x4A400F0)
--1--  = 0
--1-- free(0xDEAD)
--1-- malloc(4611686018427387904) = 0x0
--1-- realloc(0x4A40200,4611686018427387904) = 0x0
"""


def test_valgrind_log_becomes_a_trace():
    t = loads(VALGRIND_LOG, source="vg.log")
    assert [str(e) for e in t] == [
        "alloc 0 10", "alloc 1 24", "realloc 0 100", "alloc 2 100 align=64", "alloc 3 24",
        "free 1", "free 0", "free 4"]
    # banner, program output, free(0x0), the two failed huge requests (the " = 0"
    # line is the result of realloc(p, 0))
    assert t.skipped == 5
    assert t.where(0) == "vg.log:2"


def test_valgrind_free_of_unknown_address_is_reported_by_replay():
    run = loads(VALGRIND_LOG).replay("bump")
    assert [i.index for i in run.issues] == [7]
    assert "invalid free" in run.issues[0].message


@pytest.mark.skipif(not (shutil.which("valgrind") and shutil.which("cc")),
                    reason="needs valgrind and a C compiler")
def test_records_a_real_program_with_valgrind(tmp_path):
    src = tmp_path / "p.c"
    src.write_text("#include <stdlib.h>\nint main(void){void *k[50];"
                   "for(int i=0;i<50;i++)k[i]=malloc(16*(i+1));"
                   "for(int i=0;i<50;i+=2)free(k[i]);"
                   "k[1]=realloc(k[1],4096);return 0;}\n")
    exe = tmp_path / "p"
    subprocess.run(["cc", "-O0", str(src), "-o", str(exe)], check=True)
    log = subprocess.run(["valgrind", "--trace-malloc=yes", str(exe)],
                         capture_output=True, text=True).stderr
    t = loads(log, "valgrind")
    sizes = [e.size for e in t if e.op == ALLOC]
    assert [16 * (i + 1) for i in range(50)] == [s for s in sizes if s in
                                                range(16, 801, 16)][:50]
    assert sum(1 for e in t if e.op == REALLOC and e.size == 4096) == 1
    run = t.replay("bump")
    assert not run.issues
