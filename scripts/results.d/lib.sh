# Shared by the recipes of scripts/results (sourced, not run). The driver exports:
#   XBAR    the xbar binary            QUICK  1 for small budgets (scripts/results --quick), else 0
#   WORK    the recipe's own folder (kept between runs in full mode, so finished runs are reused)
#   BLOCKS  where blocks go (NAME.md)  FIGS   where figures go (docs/figures when publishing)
#   ROOT    the repository
set -euo pipefail
: "${XBAR:?run recipes through scripts/results}" "${WORK:?}" "${BLOCKS:?}" "${FIGS:?}" "${ROOT:?}"
QUICK="${QUICK:-0}"

# pick FULL QUICK: the full budget when publishing, the small one with --quick.
pick() { if [[ "$QUICK" == 1 ]]; then echo "$2"; else echo "$1"; fi; }

# stamp: the line every block begins with.
stamp() {
  local dirty mode
  dirty="$(git -C "$ROOT" status --porcelain --untracked-files=no -- Sources Package.swift 2>/dev/null | grep -q . \
    && echo " with uncommitted changes to Sources" || true)"
  mode="$([[ "$QUICK" == 1 ]] && echo ", quick budget" || true)"
  echo "Measured on commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty," \
    "$(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores" \
    "(\`scripts/results --only $(basename "$0")\`$mode)."
}

# block NAME: stdin becomes the block NAME (a marker <!-- result:NAME --> shows it).
block() { cat > "$BLOCKS/$1.md"; }

# train DIR ARGS…: xbar train into WORK/DIR, resumed if an earlier attempt was interrupted and left
# alone if it finished (xbar train --resume says so and changes nothing).
train() {
  local dir="$WORK/$1"; shift
  if [[ -f "$dir/checkpoint.safetensors" ]]; then "$XBAR" train --resume "$dir" --quiet > /dev/null
  else rm -rf "$dir"; "$XBAR" train "$@" --quiet --out "$dir" > /dev/null; fi
}

# last_epoch DIR: the last epoch line of WORK/DIR/log.jsonl.
last_epoch() { grep '"test_error"' "$WORK/$1/log.jsonl" | tail -n 1; }

# json EXPR FILE…: evaluates a Python expression with `d` the parsed first file (`ds` all of them).
json() {
  python3 - "$@" <<'PY'
import json, sys
expr, files = sys.argv[1], sys.argv[2:]
ds = [json.load(open(f)) for f in files]
d = ds[0]
print(eval(expr))
PY
}
