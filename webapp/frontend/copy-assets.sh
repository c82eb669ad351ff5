#!/bin/sh
# Copy the built bpmn-js navigated viewer and modeler (from node_modules, after `npm ci`) into
# webapp/static/vendor/bpmn-js/.
# The copied files are committed: installing and running the app needs no npm.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/node_modules/bpmn-js"
dest="$here/../static/vendor/bpmn-js"
if [ ! -d "$src/dist" ]; then
  echo "bpmn-js is not installed: run 'npm ci' in $here first" >&2
  exit 1
fi
version=$(node -p "require('$src/package.json').version")
rm -rf "$dest/assets" "$dest/bpmn-navigated-viewer.production.min.js" "$dest/bpmn-modeler.production.min.js" \
  "$dest/LICENSE"
mkdir -p "$dest/assets/bpmn-font/css" "$dest/assets/bpmn-font/font"
cp "$src/dist/bpmn-navigated-viewer.production.min.js" "$src/dist/bpmn-modeler.production.min.js" "$dest/"
cp "$src/dist/assets/bpmn-js.css" "$src/dist/assets/diagram-js.css" "$dest/assets/"
cp "$src/dist/assets/bpmn-font/css/bpmn.css" "$dest/assets/bpmn-font/css/"
cp "$src/dist/assets/bpmn-font/font/"* "$dest/assets/bpmn-font/font/"
cp "$src/LICENSE" "$dest/LICENSE"
echo "$version" > "$dest/VERSION"
echo "bpmn-js $version copied to $dest"
