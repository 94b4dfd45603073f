"""Blind pairwise preference study over a run's answers.

    python -m harness rate RUN_DIR            # human raters, in a browser
    python -m harness judge RUN_DIR --judge teacher   # an automatic judge, both orders
    python -m harness preferences RUN_DIR     # win rates, Bradley-Terry, agreement

``store`` (the vote log), ``schedule`` (which pair a rater sees next), ``stats`` (pure statistics),
``analysis`` (the summary a report shows), ``report`` (Markdown/HTML), ``server`` (the rating
page), ``judge`` (the automatic rater). Nothing here imports a model; the judge uses any
registered system through the ``System`` contract.
"""
