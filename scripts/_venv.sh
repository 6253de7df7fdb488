# Sourced by scripts/serve and scripts/test: creates .venv and installs the project into it,
# reinstalling only when pyproject.toml changed since the last install that worked.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}

fail() {
  echo "engage: $*" >&2
  exit 1
}

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
  fail "Engage needs Python 3.11 or newer; set PYTHON=/path/to/python3.11"
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv || fail "could not create .venv with $python (on Debian: apt-get install python3-venv)"
fi

install_stamp() {
  local extras=$1 stamp=".venv/.installed-$1" log=".venv/install.log"
  local digest target=.
  digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$digest" ]] && return 0
  # The stamp is written only once the install worked and Engage imports: a failed attempt is
  # tried again on the next run.
  rm -f "$stamp"
  [[ $extras == base ]] || target=".[$extras]"
  echo "Installing Engage into .venv (log: $log)" >&2
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target" >"$log" 2>&1; then
    fail "installing Engage failed: $(grep -E '^ERROR|rror:' "$log" | grep -v '^WARNING' | tail -1) (whole log: $log)"
  fi
  if ! .venv/bin/python -c 'import api.cli' >>"$log" 2>&1; then
    fail "Engage was installed but does not start: $(tail -1 "$log") (whole log: $log)"
  fi
  echo "$digest" >"$stamp"
}
