#!/usr/bin/env bash
# Regenerates src/generated/ (protobuf-es TypeScript types) and
# generated/envoy_api.binpb (a FileDescriptorSet of the whole Envoy v3 API,
# loaded at run time as the type registry for Any / @type).
#
# Source: the Envoy v3, xds/udpa, googleapis and PGV protos that the npm package
# @grpc/grpc-js-xds ships under deps/. Its PGV copy predates
# StringRules.ignore_empty (field 26), which 17 Envoy options use, so we patch a
# temporary copy. A handful of files import protos that are not shipped
# (opencensus, metrics/trace services, OpenTelemetry) and are left out.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/node_modules/.bin"
# The generators are only needed here, not to build or test: install them on demand.
# (@bufbuild/buf's per-platform packages are not all published at every version,
# which breaks `npm ci` when it is a devDependency.)
if [ ! -x "$BIN/buf" ] || [ ! -x "$BIN/protoc-gen-es" ]; then
  (cd "$ROOT" && npm install --no-save --no-audit --no-fund @bufbuild/buf@1.75.0 @bufbuild/protoc-gen-es@2.17.0)
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$ROOT/node_modules/@grpc/grpc-js-xds/deps" "$WORK/deps"
sed -i '/optional bool strict = 25/a\  optional bool ignore_empty = 26;' \
  "$WORK/deps/protoc-gen-validate/validate/validate.proto"
cat > "$WORK/buf.yaml" <<'YAML'
version: v2
modules:
  - path: deps/envoy-api
  - path: deps/xds
  - path: deps/googleapis
  - path: deps/protoc-gen-validate
YAML
cat > "$WORK/buf.gen.yaml" <<YAML
version: v2
plugins:
  - local: $BIN/protoc-gen-es
    out: gen
    opt: [target=ts, import_extension=js]
YAML
EXCLUDE='^envoy/(config/trace/v3/(opencensus|trace)|extensions/access_loggers/open_telemetry/v3/logs_service|service/(metrics|trace)/v3/[a-z_]+)\.proto$'
(cd "$WORK/deps/envoy-api" && find envoy -path '*/v3/*.proto' | sort | grep -Ev "$EXCLUDE") > "$WORK/files.txt"
ARGS=()
while read -r f; do ARGS+=(--path "deps/envoy-api/$f"); done < "$WORK/files.txt"
# The xds TypedStruct and the udpa one are not reachable from Envoy's files by import.
ARGS+=(--path deps/xds/xds/type/v3/typed_struct.proto --path deps/xds/udpa/type/v1/typed_struct.proto)
cd "$WORK"
mkdir -p "$ROOT/generated"
"$BIN/buf" build --exclude-source-info "${ARGS[@]}" -o "$ROOT/generated/envoy_api.binpb"
"$BIN/buf" generate --include-imports "${ARGS[@]}"
rm -rf "$ROOT/src/generated"
mv gen "$ROOT/src/generated"
echo "generated $(find "$ROOT/src/generated" -name '*.ts' | wc -l) files; descriptor set $(stat -c %s "$ROOT/generated/envoy_api.binpb") bytes"
