"""Hybrid generation: LLM for meaning, SDV for statistics, Faker for volume."""
