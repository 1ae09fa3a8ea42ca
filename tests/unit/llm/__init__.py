"""Unit tests of synth_core.llm against the fake OpenAI-compatible server."""
