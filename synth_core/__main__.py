"""Entry point for `python -m synth_core`."""

from synth_core.cli import main

raise SystemExit(main())
