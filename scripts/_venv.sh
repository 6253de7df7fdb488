# Sourced by scripts/serve and scripts/test: creates .venv and installs the project into it,
# reinstalling only when pyproject.toml changed since the last install.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
install_stamp() {
  local extras=$1 stamp=".venv/.installed-$1"
  local digest
  digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [[ ! -f $stamp || $(cat "$stamp") != "$digest" ]]; then
    if [[ $extras == base ]]; then
      .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
    else
      .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
    fi
    echo "$digest" >"$stamp"
  fi
}
