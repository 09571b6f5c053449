"""Turning a channel's documents into a LoRA adapter: models, plans, examples, the training loop."""
