"""LoRA and LoRA-KD training (configs, losses, loops) and the adapter-backed systems."""
