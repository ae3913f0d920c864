"""Shapley value over channels (or campaigns): the "simplified Shapley" of Zhao et al. 2018.

Players are the keys that appear on converting paths. The worth of a
coalition S is what the converting paths whose set of keys lies inside S
bring: v(S) = conversions (or value) of the paths with keys(path) <= S. A
key's credit is its Shapley value

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S)),

exact over all 2^n coalitions (efficiency: the credits sum to v(all keys) =
every attributable conversion). Non-converting paths add nothing to any v(S).

Exact enumeration costs about n * 2^n steps, so it is used up to ``MAX_KEYS``
(15: 32,768 coalitions). Beyond that the same values come in closed form: for
this v each converting path is a unanimity game on its key set, whose Shapley
value is an equal split, phi_i = sum over converting paths containing i of
conversion / |keys(path)| (Shapley values add over games). The simulator's
data has 17 channels on converting paths. The property test in
tests/streams/attribution/test_properties.py checks the identity against the
enumeration on random path sets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from streams.attribution.credits import Credits, Tally, outcome
from streams.attribution.paths import By, Path

MAX_KEYS = 15


def worths(masks: dict[int, tuple[int, Decimal]], n: int) -> tuple[list[int], list[Decimal]]:
    """v(S) for every coalition bit mask S, for conversions and for value: sums over the subsets of S.

    ``masks`` maps a path's key set (as a bit mask) to its (conversions, value).
    The subset sums are the standard "sum over subsets" pass: n sweeps of 2^n.
    Exact (int, Decimal), so every marginal contribution v(S + i) - v(S) is exactly >= 0.
    """
    conv, value = [0] * (1 << n), [Decimal(0)] * (1 << n)
    for mask, (c, v) in masks.items():
        conv[mask] += c
        value[mask] += v
    for bit in range(n):
        step = 1 << bit
        for s in range(1 << n):
            if s & step:
                conv[s] += conv[s ^ step]
                value[s] += value[s ^ step]
    return conv, value


def shapley(paths: Iterable[Path], by: By = "channel") -> Credits:
    done = outcome(paths)
    keys = sorted({k for p in done.attributable for k in p.keys(by)})
    n = len(keys)
    if n > MAX_KEYS:
        return equal_split(done, by)
    bit = {k: 1 << i for i, k in enumerate(keys)}
    masks: dict[int, tuple[int, Decimal]] = {}
    for path in done.attributable:
        mask = sum(bit[k] for k in set(path.keys(by)))
        c, v = masks.get(mask, (0, Decimal(0)))
        masks[mask] = (c + 1, v + path.value)
    v_conv, v_value = worths(masks, n)
    weight = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    tally = Tally()
    for key in keys:
        b = bit[key]
        conv_terms, value_terms = [], []
        for s in range(1 << n):
            if s & b:
                continue
            w = weight[s.bit_count()]
            conv_terms.append(w * (v_conv[s | b] - v_conv[s]))
            value_terms.append(w * float(v_value[s | b] - v_value[s]))
        tally.add(key, math.fsum(conv_terms), math.fsum(value_terms))
    return tally.credits(done, by)


def equal_split(done, by: By) -> Credits:  # noqa: ANN001 - credits.outcome(...) of the paths
    """The Shapley values of this game in closed form: each converting path shared equally by its keys."""
    tally = Tally()
    for path in done.attributable:
        keys = set(path.keys(by))
        for key in keys:
            tally.add(key, 1 / len(keys), float(path.value) / len(keys))
    return tally.credits(done, by)
