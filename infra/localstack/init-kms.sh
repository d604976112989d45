#!/usr/bin/env bash
# Creates kagi's KMS keys with the plain AWS CLI. Idempotent.
#   - alias/kagi (KMS_ALIAS): the symmetric master key of envelope encryption;
#   - alias/kagi-governance (GOVERNANCE_KMS_ALIAS): the governance signer's asymmetric
#     ECC_SECG_P256K1 SIGN_VERIFY key (GOVERNANCE_SIGNER=kms), which never leaves KMS.
# LocalStack runs it from /etc/localstack/init/ready.d; CI runs it once against moto.
#   KMS_ENDPOINT   endpoint URL (default http://localhost:4566)
set -euo pipefail
endpoint="${KMS_ENDPOINT:-http://localhost:4566}"
alias_name="${KMS_ALIAS:-alias/kagi}"
governance_alias="${GOVERNANCE_KMS_ALIAS:-alias/kagi-governance}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
kms() { aws --endpoint-url "$endpoint" kms "$@"; }

# ensure_key ALIAS DESCRIPTION KEY_USAGE KEY_SPEC
ensure_key() {
  local name="$1" description="$2" usage="$3" spec="$4" existing key_id
  existing="$(kms list-aliases --query "Aliases[?AliasName=='${name}'].TargetKeyId | [0]" --output text)"
  if [[ -n "$existing" && "$existing" != "None" ]]; then
    echo "kms: ${name} already points to ${existing}"
    return 0
  fi
  key_id="$(kms create-key --description "$description" --key-usage "$usage" --key-spec "$spec" --query KeyMetadata.KeyId --output text)"
  kms create-alias --alias-name "$name" --target-key-id "$key_id"
  echo "kms: created ${name} -> ${key_id}"
}

ensure_key "$alias_name" 'kagi master key (envelope encryption of signing keys)' ENCRYPT_DECRYPT SYMMETRIC_DEFAULT
ensure_key "$governance_alias" 'kagi governance signer (token admin role; Sign only)' SIGN_VERIFY ECC_SECG_P256K1
