"""The Hugging Face backbone: transformers for the frozen LM, PEFT for LoRA experts."""
