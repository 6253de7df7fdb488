# Sourced by scripts/generate-clients and scripts/test: the tools that make the clients in
# clients/, each installed once and again only when what pins it changed (a stamp holds the
# digest of the file that pins it, written only after the install worked).
#
# ariadne-codegen lives in a venv of its own, .venv-codegen: it pins graphql-core and ruff below
# the versions Engage runs with, so it cannot share .venv.

codegen_venv() {
  local stamp=.venv-codegen/.installed log=.venv-codegen/install.log digest
  digest=$(sha256sum clients/python/codegen-requirements.txt | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$digest" ]] && return 0
  rm -f "$stamp"
  [[ -x .venv-codegen/bin/python ]] || "${PYTHON:-python3}" -m venv .venv-codegen ||
    fail "could not create .venv-codegen"
  echo "Installing ariadne-codegen into .venv-codegen (log: $log)" >&2
  .venv-codegen/bin/python -m pip install --quiet --disable-pip-version-check \
    -r clients/python/codegen-requirements.txt >"$log" 2>&1 ||
    fail "installing ariadne-codegen failed (log: $log)"
  echo "$digest" >"$stamp"
}

npm_ci() {
  local dir=clients/typescript stamp=clients/typescript/node_modules/.installed digest
  command -v npm >/dev/null || fail "the TypeScript client needs Node 20 and npm"
  digest=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$digest" ]] && return 0
  echo "Installing the TypeScript client's packages (npm ci in $dir)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    fail "npm ci in $dir failed"
  echo "$digest" >"$stamp"
}
