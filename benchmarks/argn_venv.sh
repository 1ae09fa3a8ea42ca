#!/usr/bin/env bash
# TabularARGN (mostlyai-engine, Apache-2.0) for the fidelity benchmark only, in its own virtualenv
# beside .venv: the workbench never imports it. The new venv sees .venv's packages through a .pth
# file, so it adds only what mostlyai-engine needs on top of the pinned stack (same torch 2.13.0,
# pandas < 3 for SDV).
set -euo pipefail
venv="${1:-.venv-argn}"
main_python="${2:-.venv/bin/python}"

purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

"$main_python" -m venv "$venv"
purelib "$main_python" > "$(purelib "$venv/bin/python")/workbench_venv.pth"
# 2.7.3 is the newest mostlyai-engine that accepts pandas < 3 (later ones need pandas 3).
"$venv/bin/python" -m pip install --quiet "mostlyai-engine==2.7.3" "pandas<3" "torch==2.13.0"
# It also pulls torchvision 0.28 and torchaudio 2.11, which do not load beside torch 2.13
# (transformers then fails: "operator torchvision::nms does not exist"); the tabular model
# needs neither, so they go.
"$venv/bin/python" -m pip uninstall --yes --quiet torchvision torchaudio
"$venv/bin/python" -c "from mostlyai.engine import TabularARGN; import torch; assert torch.__version__.startswith('2.13.0')"
touch "$venv/.installed"
