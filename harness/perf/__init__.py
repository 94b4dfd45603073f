"""Performance measurements behind ``python -m harness bench``: every figure is a ratio of two
things measured in the same process on the same inputs, so a busy machine slows both sides.

* :mod:`harness.perf.generation` -- our generation path vs plain ``model.generate``, bf16 vs fp32.
* :mod:`harness.perf.suite` -- the table: generation, model load, FAISS, training throughput.
* :mod:`harness.perf.peer` -- the same items through lm-evaluation-harness's ``hf`` backend.
"""
