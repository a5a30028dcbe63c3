#!/usr/bin/env bash
# `make run`: start Redis + Postgres, build authd, migrate, seed the demo
# user/client, then serve in the foreground.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

DATA="${AUTHD_DATA_DIR:-$REPO_ROOT/.data}"
case "$DATA" in /*) ;; *) DATA="$REPO_ROOT/$DATA" ;; esac
export AUTHD_DATA_DIR="$DATA"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

bash scripts/services.sh up
eval "$(bash scripts/services.sh env)"

# Development secret: generated once, kept in the data dir.
if [ -z "${AUTHD_SECRET:-}" ]; then
  secret_file="$DATA/dev-secret"
  if [ ! -s "$secret_file" ]; then
    mkdir -p "$DATA"
    (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$secret_file")
    echo "run: generated development secret in $secret_file" >&2
  fi
  chmod 600 "$secret_file"
  AUTHD_SECRET="$(cat "$secret_file")"
  export AUTHD_SECRET
fi

mkdir -p bin
go build -o bin/authd ./cmd/authd
bin/authd migrate
bin/authd demo
exec bin/authd serve
