#!/usr/bin/env bash
# Build docs/report.html: the report page of the shipped model over docs/passage.txt
# (an original scene in the corpus's form, so no tinyshakespeare text is needed or kept).
# The page is about 4 MiB of inline data, so it is built, not committed; docs/report.png
# is its screenshot. Run from anywhere with rnngen installed (pip install -e .).
set -euo pipefail
cd "$(dirname "$0")/.."
rnngen report --checkpoint checkpoints/shakespeare.npz --corpus docs/passage.txt --unit 0:244 --output docs/report.html "$@"
