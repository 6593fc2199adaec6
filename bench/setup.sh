#!/usr/bin/env bash
# Creates bench/.venv and installs the DBOS peer (dbos==3.4.0 from PyPI, FastAPI, uvicorn, httpx).
# Usage: bash bench/setup.sh   (PYTHON=python3.12 bash bench/setup.sh to pick an interpreter)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip
"$here/.venv/bin/python" -m pip install --quiet -r "$here/dbos/requirements.txt"
"$here/.venv/bin/python" -c 'import dbos, fastapi, uvicorn, httpx; from importlib.metadata import version; print("dbos", version("dbos"), "fastapi", version("fastapi"), "uvicorn", version("uvicorn"))'
