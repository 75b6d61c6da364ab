"""Recording native programs under valgrind, and compare's recommendation on them.

Owns: `pyfrag record -o t.trace -- sort FILE` then `pyfrag compare t.trace`
(the issue's acceptance commands), the summary's figures, the refusal of a
log holding several processes (a shell that forks), the threads of a
threaded program named with their calls, and the clear error when valgrind
is missing. Skipped where valgrind or sort is not installed.
"""

import shutil

import pytest

from pyfrag import cli, record
from pyfrag.trace import load

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None or
                                    shutil.which("sort") is None,
                                    reason="needs valgrind and sort")


def _cli(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def words(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("".join(f"{(i * 7919) % 1000:04d} line {i}\n" for i in range(3000)))
    return path


@needs_valgrind
def test_record_sort_then_compare_recommends(words, tmp_path, capsys):
    out = tmp_path / "t.trace"
    status, stdout, err = _cli(capsys, "record", "-o", str(out), "--", "sort", str(words))
    assert status == 0, err
    assert stdout == ""                    # sort's own output went to the terminal, not ours
    trace = load(str(out))
    counts = trace.counts()
    assert counts["alloc"] > 10 and counts["free"] > 10
    assert f"recorded {len(trace)} events" in err and "peak live" in err
    assert "child processes were not followed" in err
    status, stdout, err = _cli(capsys, "compare", str(out))
    assert status == 0, err
    tail = stdout.split("recommendation: ", 1)[1]
    best = tail.split(":", 1)[0]
    assert "cost: no failed request" in tail.splitlines()[0]
    assert "bytes" in tail.splitlines()[0]          # the module size beside it
    assert best.split(" ")[0] in stdout.split("recommendation")[0]
    # a bump allocator never wins a tie: its heap only grows with a longer run
    assert not best.startswith(("as-stub", "bump"))


@needs_valgrind
def test_a_forking_shell_is_refused_not_merged(tmp_path, capsys):
    out = tmp_path / "sh.trace"
    status, _, err = _cli(capsys, "record", "-o", str(out), "--",
                          "sh", "-c", "x=$(echo hi); echo $x")
    assert status == 2
    assert "processes" in err and "does not merge them" in err
    assert not out.exists()


def test_missing_valgrind_says_how_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(record.shutil, "which", lambda name: None)
    status, _, err = _cli(capsys, "record", "-o", str(tmp_path / "x.trace"), "--", "true")
    assert status == 2
    assert "valgrind not found" in err and "apt-get install valgrind" in err


def test_record_without_a_command_is_a_usage_error(capsys):
    status, _, err = _cli(capsys, "record")
    assert status == 2 and "no command to record" in err


@needs_valgrind
def test_threads_are_named_with_their_calls_not_merged_silently(tmp_path, capsys):
    # GNU sort sorts a large input with several threads
    big = tmp_path / "big.txt"
    big.write_text("".join(f"{(i * 2654435761) % 1000003}\n" for i in range(200_000)))
    status, _, err = _cli(capsys, "record", "-o", str(tmp_path / "p.trace"), "--",
                          "sort", "--parallel=4", str(big))
    assert status == 0, err
    assert "threads made allocator calls (thread 1: " in err
    assert "share the process's heap" in err


def test_thread_calls_follow_the_scheduler_turns():
    log = "\n".join([
        "--7-- malloc(8) = 0x10",
        "--7--   SCHED[2]:  acquired lock (thread_wrapper(starting new thread))",
        "--7-- malloc(9) = 0x20",
        "--7-- free(0x10)",
        "--7--   SCHED[1]: releasing lock (VG_(scheduler):timeslice) -> VgTs_Yielding",
        "--7--   SCHED[1]:  acquired lock (VG_(scheduler):timeslice)",
        "--7-- free(0x20)"])
    assert record.thread_calls(log) == {"1": 2, "2": 2}
