"""The command line as a new user meets it: help, listed parameters, refusals.

Owns: the top-level --help names every command with an example of each; every
option of every command has help; `list --scenarios` lists each parameter -p
can set, and each one listed is accepted; compare does not offer --like;
convert refuses an output extension it cannot write; bench says up front how
long it will take.
"""

import argparse
import re
import subprocess
import sys

import pytest

from pyfrag import scenarios
from pyfrag.cli import build_parser
from pyfrag.sources import parse_params, source_trace
from pyfrag.trace import load


def pyfrag(*args):
    return subprocess.run([sys.executable, "-m", "pyfrag", *map(str, args)],
                          capture_output=True, text=True)


def commands():
    sub = next(a for a in build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_top_level_help_says_what_pyfrag_is_with_an_example_per_command():
    r = pyfrag("--help")
    assert r.returncode == 0
    assert "fragmentation lab for WebAssembly linear memory" in r.stdout
    examples = r.stdout.split("examples:", 1)[1]
    for name in commands():
        assert re.search(rf"^\s+pyfrag {name} ", examples, re.M), name


@pytest.mark.parametrize("name", list(commands()))
def test_every_option_has_help(name):
    for action in commands()[name]._actions:
        hidden = name == "compare" and "--like" in action.option_strings
        assert action.help and (action.help != argparse.SUPPRESS or hidden), \
            (name, action.dest)


def test_compare_does_not_offer_like_and_still_explains_it():
    assert "--like" not in pyfrag("compare", "--help").stdout
    r = pyfrag("compare", "swiss-cheese", "--like", "c-dlmalloc")
    assert r.returncode == 2 and "use run --like" in r.stderr


def listed_parameters():
    out = pyfrag("list", "--scenarios").stdout.splitlines()
    return {name: dict(item.split("=", 1) for item in params.split()[1:])
            for name, params in zip(out[::3], out[2::3])}


def test_list_scenarios_gives_every_settable_parameter():
    listed = listed_parameters()
    assert list(listed) == scenarios.names()
    assert listed["swiss-cheese"] == {"rounds": "1000", "anchor": "1024", "temp": "102400",
                                      "probe": "512000"}
    assert "memory" in listed["image-task"] and "image" not in listed["image-task"]
    assert "seed" in listed["random"] and "events" in listed["random"]


def test_every_listed_parameter_is_accepted_as_listed():
    for name, params in listed_parameters().items():
        for key, value in params.items():
            small = {"events": 500} if name == "random" and key != "events" else {}
            source_trace(name, params={**small, **parse_params([f"{key}={value}"])})


def test_run_help_lists_the_scenario_parameters():
    assert "swiss-cheese   -p rounds=1000 anchor=1024" in pyfrag("run", "--help").stdout


def test_a_parameter_no_option_can_set_is_refused():
    r = pyfrag("run", "image-task", "-p", "image=5")
    assert r.returncode == 2 and "-p image=5: image is (4194304, 5242880)" in r.stderr


@pytest.mark.parametrize("output,message", [
    ("out.csv", "out.csv: unknown trace file extension '.csv'; use .trace, .txt, .jsonl"),
    ("out", "out: unknown trace file extension '(none)'"),
    ("out.log", "valgrind files (.log) can be read but not written"),
])
def test_convert_refuses_an_extension_it_cannot_write(tmp_path, output, message):
    r = pyfrag("convert", "swiss-cheese", tmp_path / output)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / output).exists()


def test_convert_with_to_writes_any_name(tmp_path):
    r = pyfrag("convert", "swiss-cheese", tmp_path / "out.csv", "--to", "jsonl")
    assert r.returncode == 0, r.stderr
    assert len(load(tmp_path / "out.csv", "jsonl")) == 3001


def test_bench_says_how_long_it_will_take():
    r = pyfrag("bench", "--allocators", "bump", "--events", "3000")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"bench: 1 model x 3,000 events, best of 3: about \d+ s on this "
                        r"machine now \(--full: 1,000,000 events, about \d+ (s|min)\)",
                        lines[0]), lines[0]
    assert lines[3].split()[0] == "bump" and lines[-1].startswith("took ")


def test_bench_defaults_to_the_quick_run():
    from pyfrag.cli.bench import FULL_EVENTS, QUICK_EVENTS
    assert QUICK_EVENTS < FULL_EVENTS
    help_text = pyfrag("bench", "--help").stdout
    assert f"default: {QUICK_EVENTS:,}" in help_text and "--full" in help_text


def test_top_level_help_lists_every_exit_code():
    codes = pyfrag("--help").stdout.split("exit codes:", 1)[1]
    found = dict(re.findall(r"^  (\d+) +(.+)$", codes, re.M))
    assert list(found) == ["0", "1", "2", "3", "4", "130"]
    assert "run --verify" in found["1"] and "trapped" in found["3"]
    assert "run --check" in found["4"] and "invariants" in found["4"]


@pytest.mark.parametrize("command", ["run", "compare", "real"])
def test_source_help_offers_standard_input(command):
    assert "- (standard input)" in pyfrag(command, "--help").stdout


def test_bench_help_and_bench_agree_on_how_long():
    """The help names no duration of its own: bench measures it on this machine and says."""
    help_text = " ".join(pyfrag("bench", "--help").stdout.split())
    assert "5x the default run; bench first says how long it will take" in help_text
    assert not re.search(r"\bminutes?\b|\d+ s\b", help_text)


def test_real_help_names_the_exports_a_module_needs():
    text = " ".join(pyfrag("real", "--help").stdout.split())
    assert "exports memory, malloc, free, realloc and live_bytes" in text
    assert "--maximum LIMIT" in text
