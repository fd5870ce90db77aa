"""Input generators of the synthetic tasks: one per type tag, plus the named ones some atoms need (parsers want
well-formed text). Every value is JSON-exact (lists, str-keyed dicts, ints, floats, strings, booleans), so a task's
inputs survive the JSONL file unchanged. Everything draws from the `random.Random` it is given: same seed, same
inputs."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

_WORDS = ("apple", "bob", "level", "stats", "kayak", "tree", "sun", "moon", "river", "stone", "code", "data",
          "noon", "radar", "mix", "zig", "alpha", "beta", "gamma", "delta", "eel", "fox", "Grape", "HELLO",
          "World", "a", "io", "queue", "civic", "madam")


def gen_int(rng: random.Random) -> int:
    return rng.choice((rng.randint(-20, 20), rng.randint(0, 200), rng.randint(-1000, 1000)))


def gen_float(rng: random.Random) -> float:
    return round(rng.uniform(-100, 100), 2)


def gen_list_int(rng: random.Random) -> list[int]:
    low, high = rng.choice(((-9, 9), (0, 20), (-50, 50)))
    return [rng.randint(low, high) for _ in range(rng.randint(0, 8))]


def gen_str(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))
    if kind < 0.8:
        return "".join(rng.choice("aabbcdeexyz") for _ in range(rng.randint(0, 9)))
    return "".join(rng.choice("ab1 2-3x9") for _ in range(rng.randint(1, 10)))


def gen_list_str(rng: random.Random) -> list[str]:
    return [rng.choice(_WORDS) for _ in range(rng.randint(0, 6))]


def gen_dict(rng: random.Random) -> dict[str, int]:
    return {rng.choice(_WORDS): rng.randint(-3, 9) for _ in range(rng.randint(0, 5))}


def gen_bool(rng: random.Random) -> bool:
    return rng.random() < 0.5


def gen_int_list_text(rng: random.Random) -> str:
    return rng.choice((",", ", ", " ,")).join(str(rng.randint(-30, 30)) for _ in range(rng.randint(0, 6)))


def gen_key_value_text(rng: random.Random) -> str:
    return ";".join(f"{rng.choice(_WORDS[:12])}={rng.randint(-9, 99)}" for _ in range(rng.randint(0, 5)))


def gen_binary_text(rng: random.Random) -> str:
    return "".join(rng.choice("01") for _ in range(rng.randint(0, 12)))


BY_TYPE: dict[str, Callable[[random.Random], object]] = {
    "int": gen_int, "float": gen_float, "list[int]": gen_list_int, "str": gen_str, "list[str]": gen_list_str,
    "dict[str, int]": gen_dict, "bool": gen_bool,
}
GENERATORS: dict[str, Callable[[random.Random], object]] = {
    "int_list_text": gen_int_list_text, "key_value_text": gen_key_value_text, "binary_text": gen_binary_text,
}


def json_exact(value) -> bool:
    """Whether `value` comes back from JSON as the same value of the same types (no tuples, sets, int keys, NaN)."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(json_exact(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_exact(v) for k, v in value.items())
    return False


def canonical(value) -> str:
    """A type-preserving text of a JSON-exact value (True and 1, 1 and 1.0 differ), for comparisons and dedup."""
    return json.dumps(value, sort_keys=True)
