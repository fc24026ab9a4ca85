"""pipe's PyTorch backend: the built-in ML kinds (`sft`, `evaluate`) on Hugging Face Qwen2-VL-family
models with TRL. Run as `python -m pipe_torch {env,check,run}`; see python/README.md."""

__version__ = "1"
