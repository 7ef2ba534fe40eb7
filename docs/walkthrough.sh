#!/usr/bin/env bash
# Runs the README's walkthrough: the ```sh block of its section "Walkthrough with curl", the
# one copy of those steps, against a running `./dev run` (or `inovasi up`). From the root of
# the checkout:
#
#   bash docs/walkthrough.sh                            # the platform at http://127.0.0.1:8000
#   API=http://127.0.0.1:8080 bash docs/walkthrough.sh  # elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
block=$(sed -n '/^## Walkthrough with curl$/,/^## /{/^```sh$/,/^```$/{/^```/d;p;};}' README.md)
if [ -z "$block" ]; then
  echo "walkthrough.sh: no \`\`\`sh block under '## Walkthrough with curl' in README.md" >&2
  exit 1
fi
if [ -n "${API:-}" ]; then
  block=${block/"API=http://127.0.0.1:8000"/"API=$API"}
fi
exec bash -c "set -euo pipefail
$block"
