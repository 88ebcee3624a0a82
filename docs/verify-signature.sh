#!/bin/sh
# Verify a relay webhook signature with openssl.
#   usage: SECRET=... verify-signature.sh "<X-Registry-Signature value>" <raw-body-file> [tolerance-seconds]
# Exit status 0 when one v1= signature matches HMAC-SHA256(SECRET, "<t>." + body) and t is recent.
set -eu
header=$1 body=$2 tolerance=${3:-300}
t=$(printf '%s\n' "$header" | tr ',' '\n' | sed -n 's/^ *t=\([0-9][0-9]*\)$/\1/p')
[ -n "$t" ] || { echo "no t= in the header" >&2; exit 1; }
age=$(( $(date +%s) - t )); [ "${age#-}" -le "$tolerance" ] || { echo "timestamp too old" >&2; exit 1; }
expected=$({ printf '%s.' "$t"; cat "$body"; } | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //')
for v1 in $(printf '%s\n' "$header" | tr ',' '\n' | sed -n 's/^ *v1=//p'); do
  [ "$v1" = "$expected" ] && { echo "valid"; exit 0; }
done
echo "no signature matches" >&2; exit 1
