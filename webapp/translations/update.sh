#!/usr/bin/env bash
# Re-extract the interface strings, merge them into the English catalogue, compile it.
# Run from anywhere; then fill the new `msgstr ""` entries of en/LC_MESSAGES/messages.po and run it again.
# No source locations and no wrapping: the catalogue changes only where strings change (clean merges).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pybabel=../.venv/bin/pybabel
pot=$(mktemp --suffix .pot)
trap 'rm -f "$pot"' EXIT
"$pybabel" extract -F babel.cfg -k _l -k lazy_gettext --no-wrap --no-location -o "$pot" . >/dev/null 2>&1
"$pybabel" update -i "$pot" -d translations --no-fuzzy-matching --no-wrap --ignore-pot-creation-date >/dev/null 2>&1
"$pybabel" compile -d translations >/dev/null 2>&1
grep -c '^msgstr ""$' translations/en/LC_MESSAGES/messages.po | awk '{ if ($1 > 1) print $1 - 1 " string(s) still without an English translation" }'
