"""Model sources (names -> cached safetensors weights) and the batched generation engine."""
