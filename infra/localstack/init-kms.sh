#!/usr/bin/env bash
# Creates kagi's KMS master key and alias/kagi with the plain AWS CLI. Idempotent.
# LocalStack runs it from /etc/localstack/init/ready.d; CI runs it once against moto.
#   KMS_ENDPOINT   endpoint URL (default http://localhost:4566)
#   KMS_ALIAS      alias to create (default alias/kagi)
set -euo pipefail
endpoint="${KMS_ENDPOINT:-http://localhost:4566}"
alias_name="${KMS_ALIAS:-alias/kagi}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
kms() { aws --endpoint-url "$endpoint" kms "$@"; }

existing="$(kms list-aliases --query "Aliases[?AliasName=='${alias_name}'].TargetKeyId | [0]" --output text)"
if [[ -n "$existing" && "$existing" != "None" ]]; then
  echo "kms: ${alias_name} already points to ${existing}"
  exit 0
fi
key_id="$(kms create-key --description 'kagi master key (envelope encryption of signing keys)' \
  --key-usage ENCRYPT_DECRYPT --key-spec SYMMETRIC_DEFAULT --query KeyMetadata.KeyId --output text)"
kms create-alias --alias-name "$alias_name" --target-key-id "$key_id"
echo "kms: created ${alias_name} -> ${key_id}"
