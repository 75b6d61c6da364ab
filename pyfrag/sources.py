"""Where a trace comes from: a scenario name with its parameters, a trace file, or
standard input, checked the same for the command line and the sweep.

Main entry point: `source_trace(source, fmt, params, pid) -> Trace`. Bad input raises
`UsageError` (a scenario parameter that does not exist or has the wrong type) or
`TraceError` (a file that is missing or malformed), each naming what and where.
"""

import inspect
import os

from . import scenarios
from .memory import user_limit
from .trace import TraceError, load


class UsageError(ValueError):
    pass



# Every allocator of a comparison starts from the same state, so differences in
# the table come from the allocators, not from the modules they were built into.
COMPARE_START = {"heap_base": 1024, "initial_pages": 1}


def param_item(item, form="key=value"):
    """(key, text) of one -p option."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise UsageError(f"-p wants {form}, got {item!r}")
    return key.replace("-", "_"), text


def param_value(text):
    """A -p value: an int where it looks like one, else a float, else the text."""
    for kind in (lambda t: int(t, 0), float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_params(items):
    """`-p key=value` options for scenario generators."""
    params = {}
    for item in items or ():
        key, text = param_item(item)
        params[key] = param_value(text)
    return params


def source_trace(source, fmt=None, params=None, pid=None):
    if source == "-":                       # standard input, read once as it comes
        source = "/dev/stdin"
    if os.path.exists(source):
        if params:
            raise UsageError("-p options apply to scenarios, not to trace files")
        return load(source, fmt, pid)
    if pid is not None:
        raise UsageError("--pid picks a process of a valgrind log, not of a scenario")
    if source.replace("_", "-").lower() in scenarios.names():
        generator = scenarios.SCENARIOS[source.replace("_", "-").lower()]
        return generator(**checked_params(source, generator, params or {}))
    if os.sep in source or os.path.splitext(source)[1]:
        raise TraceError("no such file", source)
    raise UsageError(f"{source!r} is neither a trace file nor a scenario "
                     f"(scenarios: {', '.join(scenarios.names())})")


def checked_params(scenario, generator, params):
    """`params` checked against the generator's signature: known names, the type of
    each default (an int parameter takes an int), no negative counts or sizes."""
    signature = inspect.signature(generator).parameters
    for key, value in params.items():
        if key not in signature:
            raise UsageError(f"scenario {scenario} has no parameter {key!r} "
                             f"(it takes: {', '.join(signature)})")
        default = signature[key].default
        if not settable(default):
            raise UsageError(f"-p {key}={value}: {key} is {default!r} and cannot be set "
                             "with -p")
        if isinstance(default, (int, float)) and not isinstance(value, (int, float)):
            raise UsageError(f"-p {key}={value}: {key} takes a number")
        if isinstance(default, int) and not isinstance(value, int):
            raise UsageError(f"-p {key}={value}: {key} takes an integer")
        if isinstance(value, (int, float)) and value < 0:
            raise UsageError(f"-p {key}={value}: {key} must be >= 0")
        if key in scenarios.LIMIT_PARAMS:
            user_limit(str(value), f"-p {key}={value}")
    return params


def settable(default):
    """-p gives numbers and text, so only parameters with such defaults take it."""
    return isinstance(default, (int, float, str))
