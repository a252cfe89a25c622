#!/bin/bash
set -euo pipefail
config="$PGC_SOURCE_CONFIG"; stanza="$PGC_SOURCE_STANZA"
creds="${PGC_SOURCE_CREDENTIALS:-/nonexistent}"; cipher="${PGC_SOURCE_CIPHER:-/nonexistent}"
for v in $(compgen -e); do case "$v" in PGBACKREST_*) unset "$v";; esac; done
put() { if [ -f "$1" ]; then export "$2=$(cat "$1")"; fi; }
put "$creds/access-key-id" PGBACKREST_REPO1_S3_KEY
put "$creds/secret-access-key" PGBACKREST_REPO1_S3_KEY_SECRET
put "$creds/key" PGBACKREST_REPO1_AZURE_KEY
put "$cipher/cipher-pass" PGBACKREST_REPO1_CIPHER_PASS
exec pgbackrest --config="$config" --stanza="$stanza" "$@"
