#!/usr/bin/env bash
# Install everything into .venv and run the test suite (what CI runs).
source "$(dirname "$0")/bootstrap.sh"
echo "==> running tests"
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
