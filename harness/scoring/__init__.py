"""Graders (pure functions ``(item, response, config) -> Score``), run metrics, paired statistics
and the CI regression gate.

    python -m harness grade answers.jsonl     # graders only
    python -m harness report RUN_DIR          # metrics + reports from a run log

``grade.py`` dispatches to ``numeric.py`` (with ``quantities.py``), ``text.py``, ``keypoints.py``
and ``refusal.py``; ``gradebook.py`` grades a run directory into ``grades.jsonl``; ``metrics.py``
and ``stats.py`` compute per-system metrics and paired comparisons; ``comparison.py`` compares two
runs; ``gate.py`` is the regression gate; ``calibration.py``/``fitting.py`` hold and fit the
learned graders' parameters (``data/``).
"""
