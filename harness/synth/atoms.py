"""The hand-written atomic functions of the synthetic task set (seed-methods.md §3, arXiv 2406.10305).

Each atom is a plain, self-contained Python function (its source is the reference implementation that goes into
the tasks), registered with `@atom(phrase)`: the phrase describes what it does to `{x}` (its first argument) and
becomes the docstring, alone or chained into a composite's. Types come from the annotations; inputs come from
`harness.synth.inputs` (per type, or the atom's own generator). Atoms must be total and cheap on every value of
their input type, because in a composite they receive another atom's output.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Atom:
    name: str
    phrase: str  # "sort {x} in ascending order"
    params: tuple[tuple[str, str], ...]  # (name, type tag) in order
    returns: str  # type tag
    source: str  # the function's source, without the decorator
    generator: str | None  # a named input generator (harness.synth.inputs.GENERATORS), None: by parameter types

    @property
    def arity(self) -> int:
        return len(self.params)


ATOMS: dict[str, Atom] = {}


def atom(phrase: str, generator: str | None = None) -> Callable:
    def register(fn: Callable) -> Callable:
        hints = fn.__annotations__
        params = tuple((name, hints[name]) for name in inspect.signature(fn).parameters)
        lines = textwrap.dedent(inspect.getsource(fn)).splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("def "))
        ATOMS[fn.__name__] = Atom(fn.__name__, phrase, params, hints["return"], "\n".join(lines[start:]) + "\n",
                                  generator)
        return fn

    return register


# ---- integers -------------------------------------------------------------------------------------------------

@atom("return the square of {x}")
def square(n: int) -> int:
    return n * n


@atom("return the absolute value of {x}")
def absolute_value(n: int) -> int:
    return -n if n < 0 else n


@atom("return the sum of the decimal digits of {x} (ignoring its sign)")
def digit_sum(n: int) -> int:
    return sum(int(c) for c in str(abs(n)))


@atom("return how many decimal digits {x} has (ignoring its sign)")
def count_digits(n: int) -> int:
    return len(str(abs(n)))


@atom("return {x} with its decimal digits reversed, keeping its sign (leading zeros vanish)")
def reverse_digits(n: int) -> int:
    value = int(str(abs(n))[::-1])
    return -value if n < 0 else value


@atom("return True if {x} is even, else False")
def is_even(n: int) -> bool:
    return n % 2 == 0


@atom("return True if {x} is a prime number, else False")
def is_prime(n: int) -> bool:
    if n < 2:
        return False
    k = 2
    while k * k <= n:
        if n % k == 0:
            return False
        k += 1
    return True


@atom("return the number of steps the Collatz rule (halve when even, else 3n+1) takes to bring {x} down to 1 "
      "(0 when it is below 2)")
def collatz_steps(n: int) -> int:
    steps = 0
    while n > 1 and steps < 10000:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


@atom("return the greatest common divisor of {x} and b (always non-negative)")
def gcd_pair(a: int, b: int) -> int:
    a, b = abs(a), abs(b)
    while b:
        a, b = b, a % b
    return a


@atom("return the least common multiple of {x} and b (0 when either is 0, always non-negative)")
def lcm_pair(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    x, y = abs(a), abs(b)
    while y:
        x, y = y, x % y
    return abs(a * b) // x


@atom("return the sum 0 + 1 + ... + {x} (0 when it is negative)")
def triangular(n: int) -> int:
    return n * (n + 1) // 2 if n > 0 else 0


@atom("return the binary digits of {x} as a string without a prefix, with a leading '-' when negative")
def int_to_binary(n: int) -> str:
    digits = bin(abs(n))[2:]
    return "-" + digits if n < 0 else digits


@atom("clamp {x} to the range 0..255")
def clamp_to_byte(n: int) -> int:
    return max(0, min(255, n))


@atom("return the k-th Fibonacci number (F(0) = 0, F(1) = 1) where k is the absolute value of {x} modulo 60")
def fibonacci_mod(n: int) -> int:
    a, b = 0, 1
    for _ in range(abs(n) % 60):
        a, b = b, a + b
    return a


@atom("return the list of the decimal digits of {x}, most significant first (ignoring its sign)")
def digits_of(n: int) -> list[int]:
    return [int(c) for c in str(abs(n))]


@atom("return the list 0, 1, ..., k-1 where k is {x} limited to the range 0..20")
def range_up_to(n: int) -> list[int]:
    return list(range(max(0, min(n, 20))))


@atom("return True if {x} is a perfect square, else False")
def is_perfect_square(n: int) -> bool:
    if n < 0:
        return False
    r = int(n ** 0.5)
    while r * r > n:
        r -= 1
    while (r + 1) * (r + 1) <= n:
        r += 1
    return r * r == n


# ---- lists of integers ----------------------------------------------------------------------------------------

@atom("sort {x} in ascending order")
def sort_ascending(xs: list[int]) -> list[int]:
    return sorted(xs)


@atom("sort {x} in descending order")
def sort_descending(xs: list[int]) -> list[int]:
    return sorted(xs, reverse=True)


@atom("reverse the order of {x}")
def reverse_list(xs: list[int]) -> list[int]:
    return xs[::-1]


@atom("return the distinct values of {x} in ascending order")
def unique_sorted(xs: list[int]) -> list[int]:
    return sorted(set(xs))


@atom("return the sum of the elements of {x} (0 for an empty list)")
def sum_list(xs: list[int]) -> int:
    return sum(xs)


@atom("return the product of the elements of {x} (1 for an empty list)")
def product_list(xs: list[int]) -> int:
    result = 1
    for x in xs:
        result *= x
    return result


@atom("return the largest element of {x} (0 for an empty list)")
def max_element(xs: list[int]) -> int:
    return max(xs) if xs else 0


@atom("return the smallest element of {x} (0 for an empty list)")
def min_element(xs: list[int]) -> int:
    return min(xs) if xs else 0


@atom("return the number of elements of {x}")
def list_length(xs: list[int]) -> int:
    return len(xs)


@atom("keep only the even elements of {x}, in order")
def keep_even(xs: list[int]) -> list[int]:
    return [x for x in xs if x % 2 == 0]


@atom("keep only the odd elements of {x}, in order")
def keep_odd(xs: list[int]) -> list[int]:
    return [x for x in xs if x % 2 != 0]


@atom("keep only the elements of {x} that are greater than zero, in order")
def keep_positive(xs: list[int]) -> list[int]:
    return [x for x in xs if x > 0]


@atom("multiply every element of {x} by 2")
def double_each(xs: list[int]) -> list[int]:
    return [2 * x for x in xs]


@atom("replace every element of {x} by its square")
def square_each(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


@atom("return the running (prefix) sums of {x}")
def prefix_sums(xs: list[int]) -> list[int]:
    out, total = [], 0
    for x in xs:
        total += x
        out.append(total)
    return out


@atom("return the differences between consecutive elements of {x} (each element minus the one before it)")
def pairwise_differences(xs: list[int]) -> list[int]:
    return [b - a for a, b in zip(xs, xs[1:], strict=False)]


@atom("drop the first element of {x} (an empty list stays empty)")
def drop_first(xs: list[int]) -> list[int]:
    return xs[1:]


@atom("rotate {x} left by one position (the first element moves to the end)")
def rotate_left(xs: list[int]) -> list[int]:
    return xs[1:] + xs[:1]


@atom("return how many elements of {x} are negative")
def count_negatives(xs: list[int]) -> int:
    return sum(1 for x in xs if x < 0)


@atom("return the second largest distinct value of {x} (the largest when there is only one, 0 when it is empty)")
def second_largest(xs: list[int]) -> int:
    values = sorted(set(xs), reverse=True)
    if not values:
        return 0
    return values[1] if len(values) > 1 else values[0]


@atom("return the running maximum of {x} (element i is the largest of the first i+1 elements)")
def running_max(xs: list[int]) -> list[int]:
    out = []
    for x in xs:
        out.append(x if not out or x > out[-1] else out[-1])
    return out


@atom("remove repeated values from {x}, keeping the first occurrence of each in order")
def dedupe_keep_order(xs: list[int]) -> list[int]:
    seen, out = set(), []
    for x in xs:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


@atom("return the arithmetic mean of {x} rounded to 4 decimals (0.0 for an empty list)")
def mean_of_list(xs: list[int]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else 0.0


@atom("return the median of {x} as a float (the mean of the two middle values for an even length, 0.0 when empty)")
def median_of_list(xs: list[int]) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    mid = len(s) // 2
    return float(s[mid]) if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


@atom("return True if {x} is sorted in non-decreasing order, else False")
def is_sorted(xs: list[int]) -> bool:
    return all(a <= b for a, b in zip(xs, xs[1:], strict=False))


@atom("return the first three elements of {x} (fewer if it is shorter)")
def take_first_three(xs: list[int]) -> list[int]:
    return xs[:3]


@atom("return True if some value occurs more than once in {x}, else False")
def has_duplicates(xs: list[int]) -> bool:
    return len(set(xs)) != len(xs)


@atom("join the elements of {x} into one string separated by commas, without spaces")
def join_numbers(xs: list[int]) -> str:
    return ",".join(str(x) for x in xs)


@atom("return the sorted list of the values that occur in both {x} and ys (each value once)")
def common_elements(xs: list[int], ys: list[int]) -> list[int]:
    return sorted(set(xs) & set(ys))


@atom("return the sorted list of the values that occur in exactly one of {x} and ys")
def symmetric_difference(xs: list[int], ys: list[int]) -> list[int]:
    return sorted(set(xs) ^ set(ys))


@atom("return the index of the largest element of {x} (the first one on ties, -1 when it is empty)")
def argmax(xs: list[int]) -> int:
    if not xs:
        return -1
    best = 0
    for i, x in enumerate(xs):
        if x > xs[best]:
            best = i
    return best


@atom("return the sum of the elements of {x} at even positions (0, 2, 4, ...)")
def sum_even_positions(xs: list[int]) -> int:
    return sum(xs[0::2])


# ---- floats ---------------------------------------------------------------------------------------------------

@atom("return the largest integer not greater than {x}")
def floor_value(x: float) -> int:
    return int(x // 1)


# ---- strings --------------------------------------------------------------------------------------------------

@atom("reverse the string {x}")
def reverse_string(s: str) -> str:
    return s[::-1]


@atom("convert {x} to upper case")
def to_upper(s: str) -> str:
    return s.upper()


@atom("return how many vowels (a, e, i, o, u, either case) {x} contains")
def count_vowels(s: str) -> int:
    return sum(1 for c in s if c in "aeiouAEIOU")


@atom("remove every vowel (a, e, i, o, u, either case) from {x}")
def remove_vowels(s: str) -> str:
    return "".join(c for c in s if c not in "aeiouAEIOU")


@atom("capitalize the first letter of every space-separated word of {x} and lower-case the rest of each word")
def capitalize_words(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in s.split(" "))


@atom("return True if {x} reads the same backwards, considering only letters and digits and ignoring case")
def is_palindrome(s: str) -> bool:
    kept = [c.lower() for c in s if c.isalnum()]
    return kept == kept[::-1]


@atom("run-length encode {x}: each run of a repeated character becomes the character followed by the run length")
def run_length_encode(s: str) -> str:
    out = []
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out.append(f"{s[i]}{j - i}")
        i = j
    return "".join(out)


@atom("return the number of whitespace-separated words in {x}")
def word_count(s: str) -> int:
    return len(s.split())


@atom("split {x} into its whitespace-separated words")
def split_words(s: str) -> list[str]:
    return s.split()


@atom("return the longest whitespace-separated word of {x} (the first one on ties, '' when there is none)")
def longest_word(s: str) -> str:
    best = ""
    for word in s.split():
        if len(word) > len(best):
            best = word
    return best


@atom("return a dictionary mapping each non-space character of {x} to the number of times it occurs")
def char_frequencies(s: str) -> dict[str, int]:
    counts = {}
    for c in s:
        if c != " ":
            counts[c] = counts.get(c, 0) + 1
    return counts


@atom("swap the case of every letter of {x}")
def swap_case(s: str) -> str:
    return s.swapcase()


@atom("shift every ASCII letter of {x} three places forward in the alphabet, wrapping around and keeping its case")
def caesar_shift(s: str) -> str:
    out = []
    for c in s:
        if "a" <= c <= "z":
            out.append(chr((ord(c) - 97 + 3) % 26 + 97))
        elif "A" <= c <= "Z":
            out.append(chr((ord(c) - 65 + 3) % 26 + 65))
        else:
            out.append(c)
    return "".join(out)


@atom("return the number of characters of {x}")
def string_length(s: str) -> int:
    return len(s)


@atom("remove every space character from {x}")
def remove_spaces(s: str) -> str:
    return s.replace(" ", "")


@atom("return the first character of {x} that occurs exactly once in it ('' when there is none)")
def first_unique_char(s: str) -> str:
    for c in s:
        if s.count(c) == 1:
            return c
    return ""


@atom("return the list of the Unicode code points of the characters of {x}")
def char_codes(s: str) -> list[int]:
    return [ord(c) for c in s]


@atom("return the number of decimal digit characters in {x}")
def count_digit_chars(s: str) -> int:
    return sum(1 for c in s if c.isdigit())


@atom("return the integers written in {x} (optionally preceded by '-'), in order of appearance")
def extract_numbers(s: str) -> list[int]:
    import re

    return [int(m) for m in re.findall(r"-?\d+", s)]


@atom("parse {x}, a comma-separated list of integers with optional spaces, into a list of integers "
      "(empty items are skipped)", generator="int_list_text")
def parse_int_list(s: str) -> list[int]:
    out = []
    for part in s.split(","):
        part = part.strip()
        if part:
            out.append(int(part))
    return out


@atom("parse {x}, a string of 'key=value' items separated by ';' with integer values, into a dictionary "
      "(a later key overrides an earlier one)", generator="key_value_text")
def parse_key_values(s: str) -> dict[str, int]:
    out = {}
    for item in s.split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()] = int(value)
    return out


@atom("read {x}, a string of binary digits, as a non-negative integer (0 for an empty string)",
      generator="binary_text")
def parse_binary(s: str) -> int:
    value = 0
    for c in s:
        value = value * 2 + (1 if c == "1" else 0)
    return value


# ---- lists of strings -----------------------------------------------------------------------------------------

@atom("sort the strings of {x} alphabetically")
def sort_strings(words: list[str]) -> list[str]:
    return sorted(words)


@atom("join the strings of {x} with '-' between them")
def join_with_dash(words: list[str]) -> str:
    return "-".join(words)


@atom("return the length of each string of {x}")
def lengths_of(words: list[str]) -> list[int]:
    return [len(w) for w in words]


@atom("keep only the strings of {x} that are longer than three characters, in order")
def keep_long_words(words: list[str]) -> list[str]:
    return [w for w in words if len(w) > 3]


@atom("return a dictionary mapping each first letter to how many strings of {x} start with it (empty strings "
      "are skipped)")
def count_by_first_letter(words: list[str]) -> dict[str, int]:
    counts = {}
    for w in words:
        if w:
            counts[w[0]] = counts.get(w[0], 0) + 1
    return counts


@atom("convert every string of {x} to upper case")
def uppercase_all(words: list[str]) -> list[str]:
    return [w.upper() for w in words]


@atom("return the strings of {x} in reverse order")
def reverse_words(words: list[str]) -> list[str]:
    return words[::-1]


# ---- dictionaries ---------------------------------------------------------------------------------------------

@atom("return the keys of the dictionary {x} in alphabetical order")
def sorted_keys(d: dict[str, int]) -> list[str]:
    return sorted(d)


@atom("return the sum of the values of the dictionary {x}")
def sum_values(d: dict[str, int]) -> int:
    return sum(d.values())


@atom("return the key of the dictionary {x} with the largest value (the alphabetically first on ties, '' when "
      "it is empty)")
def key_of_max_value(d: dict[str, int]) -> str:
    best = ""
    for key in sorted(d):
        if best == "" or d[key] > d[best]:
            best = key
    return best


@atom("keep only the entries of the dictionary {x} whose value is greater than 1")
def keep_values_above_one(d: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in d.items() if v > 1}


@atom("return the values of the dictionary {x} ordered by their keys alphabetically")
def values_by_key(d: dict[str, int]) -> list[int]:
    return [d[k] for k in sorted(d)]


# ---- booleans -------------------------------------------------------------------------------------------------

@atom("return 1 if {x} is True, else 0")
def bool_to_int(flag: bool) -> int:
    return 1 if flag else 0


@atom("return 'yes' if {x} is True, else 'no'")
def bool_to_word(flag: bool) -> str:
    return "yes" if flag else "no"
