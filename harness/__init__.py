"""raq-harness: compare vanilla, LoRA, LoRA-KD and RAG systems on domain questions.

python -m harness run --systems all
"""

from __future__ import annotations

__version__ = "0.1.0"
