#!/usr/bin/env bash
# Install into .venv and run the main job end to end on embedded defaults:
# embedded PostgreSQL, synthetic bars through QC, a short training run, a backtest report.
source "$(dirname "$0")/bootstrap.sh"
echo "==> running the demo"
exec .venv/bin/ijules demo "$@"
