"""Multi-touch attribution: pure models over conversion paths (no I/O).

- ``paths``: a path (the touches of one journey inside the lookback, converted or not, its value);
- ``from_journeys``: paths from ``streams.journeys.build.Journey`` objects;
- ``credits``: what a model returns, and the per-path share bookkeeping the rules share;
- ``rules``: first touch, last touch, last non-direct, linear, position-based, time-decay;
- ``markov``: first-order Markov-chain removal effect;
- ``shapley``: Shapley value of the "simplified" coalition game (Zhao et al. 2018);
- ``registry``: ``MODELS`` (name -> model and its parameters) and ``attribute``.

Rules, parameters and edge cases: docs/attribution.md.
"""
