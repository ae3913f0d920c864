"""First-order Markov-chain removal effect (Anderl et al. 2016; the ChannelAttribution package's model).

States: ``start``, one per key (channel or campaign), and the absorbing
``conversion`` and ``null``. Every path with touches, converting or not, is
the walk start -> k1 -> ... -> kn -> conversion (or null); transition
probabilities are the observed transition counts out of each state divided by
their total. Repeats (web -> web) are kept as self-loops: they change no
absorption probability, so collapsing them gives the same result.

P(conversion) is the probability of absorption in ``conversion`` from
``start``, solved exactly from the linear system (I - Q) x = r (Q: transient
to transient, r: transient to conversion), not simulated. Removing key i makes
its state lead to ``null``: P_-i. Removal effect RE_i = 1 - P_-i / P (computed
for all keys from one matrix inverse: see ``Chain.removal_effects``). The
conversions (and value) are split in proportion to the removal effects:
credit_i = conversions * RE_i / sum_j RE_j.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from streams.attribution.credits import Credits, Tally, outcome
from streams.attribution.exceptions import AttributionError
from streams.attribution.paths import By, Path

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


class Chain:
    """Transition counts of paths; transient states are start (index 0) and the keys (1..n, sorted)."""

    def __init__(self, paths: Iterable[Path], by: By):
        self.counts: Counter[tuple[str, str]] = Counter()
        for path in paths:
            if not path.touches:
                continue
            walk = [START, *path.keys(by), CONVERSION if path.converted else NULL]
            self.counts.update(zip(walk, walk[1:]))
        self.keys = sorted({a for a, _ in self.counts} - {START})
        self.index = {START: 0, **{k: i + 1 for i, k in enumerate(self.keys)}}

    def probabilities(self) -> dict[str, dict[str, float]]:
        """P(next | state) for every transient state, as observed."""
        out: dict[str, dict[str, float]] = {}
        totals = Counter()
        for (a, _), n in self.counts.items():
            totals[a] += n
        for (a, b), n in self.counts.items():
            out.setdefault(a, {})[b] = n / totals[a]
        return out

    def system(self) -> tuple[np.ndarray, np.ndarray]:
        """(Q, r): transient -> transient and transient -> conversion probabilities."""
        size = len(self.index)
        q, r = np.zeros((size, size)), np.zeros(size)
        for state, nexts in self.probabilities().items():
            i = self.index[state]
            for b, p in nexts.items():
                if b == CONVERSION:
                    r[i] += p
                elif b != NULL:
                    q[i, self.index[b]] += p
        return q, r

    def conversion_probability(self, removed: str | None = None) -> float:
        """P(absorbed in conversion | start), with ``removed``'s state leading to null if given: the definition."""
        q, r = self.system()
        if removed is not None:
            i = self.index[removed]
            q[i, :] = 0.0
            r[i] = 0.0
        return float(np.linalg.solve(np.eye(len(r)) - q, r)[0])

    def removal_effects(self) -> tuple[float, dict[str, float]]:
        """P and RE_i = 1 - P_-i / P per key (0 when nothing converts), from one inverse, not one solve per key.

        With N = (I - Q)^-1 (expected visits), x = N r (P(conversion) from each
        state) and h_i = N[start, i] / N[i, i] (P(ever reaching i) from start),
        a walk converts without visiting i with P_-i = P - h_i x_i: after its
        first visit to i a walk converts with x_i, whatever came before. So
        RE_i = h_i x_i / P. Never below 0 (rounding is clipped).
        """
        q, r = self.system()
        visits = np.linalg.inv(np.eye(len(r)) - q)
        x = visits @ r
        base = float(x[0])
        if base <= 0:
            return 0.0, {k: 0.0 for k in self.keys}
        return base, {k: max(0.0, float(visits[0, i] / visits[i, i] * x[i]) / base)
                      for k, i in ((k, self.index[k]) for k in self.keys)}


def markov(paths: Iterable[Path], by: By = "channel") -> Credits:
    """Credits in proportion to removal effects; uses converting AND non-converting paths."""
    paths = list(paths)
    done = outcome(paths)
    chain = Chain(paths, by)
    probability, effects = chain.removal_effects() if done.conversions else (0.0, {})
    total_effect = math.fsum(effects.values())
    if done.conversions and total_effect <= 0:  # cannot happen: every converting walk passes some key
        raise AttributionError("the Markov chain converts but no removal effect is positive: report this bug")
    tally = Tally()
    conversions, value = done.conversions, float(done.value)
    for key, effect in effects.items():
        if effect > 0:
            tally.add(key, conversions * effect / total_effect, value * effect / total_effect)
    diagnostics = {"removal_effects": effects, "conversion_probability": probability}
    return tally.credits(done, by, diagnostics)
