/**
 * moto_server with AWS's DIGEST and key-state behaviour (moto 5.2.1 ignores
 * `MessageType: DIGEST` and signs with disabled keys; see governance-signer.e2e-spec.ts, whose
 * copy of this patch this is: both files should import it from here once merged).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findMoto, freePort } from '../../dev/processes';
import { recordChild } from './recording';

const MOTO_AS_AWS = String.raw`
import sys, threading
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils as cu
from moto.core.exceptions import JsonRESTError
from moto.kms import responses, utils as ku
from moto.kms.exceptions import ValidationException

state = threading.local()

def usable(self):
    key = self.kms_backend.describe_key(self._get_param("KeyId"))
    if key.key_state == "Disabled":
        raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
    if key.key_state == "PendingDeletion":
        raise JsonRESTError("KMSInvalidStateException", f"{key.arn} is pending deletion.")

orig_sign = responses.KmsResponse.sign
def sign(self):
    usable(self)
    state.digest = self._get_param("MessageType") == "DIGEST"
    try:
        return orig_sign(self)
    finally:
        state.digest = False
responses.KmsResponse.sign = sign

orig_get_public_key = responses.KmsResponse.get_public_key
def get_public_key(self):
    usable(self)
    return orig_get_public_key(self)
responses.KmsResponse.get_public_key = get_public_key

orig_key_sign = ku.ECDSAPrivateKey.sign
def key_sign(self, message, algorithm):
    if not getattr(state, "digest", False):
        return orig_key_sign(self, message, algorithm)
    ku.validate_signing_algorithm(algorithm, self.valid_signing_algorithms)
    if algorithm != "ECDSA_SHA_256" or len(message) != 32:
        raise ValidationException("Digest is invalid length for algorithm " + algorithm + ".")
    return self.private_key.sign(message, ec.ECDSA(cu.Prehashed(hashes.SHA256())))
ku.ECDSAPrivateKey.sign = key_sign

from moto.server import main
main(sys.argv[1:])
`;

/** The Python that runs the installed moto_server (its shebang), or python3 (pyenv shims are shell scripts). */
function motoPython(): string {
  const bin = findMoto(process.cwd());
  const first = bin ? readFileSync(bin, 'utf8').split('\n', 1)[0]! : '';
  return first.startsWith('#!') && /python/.test(first) ? first.slice(2).trim() : 'python3';
}

/** moto_server with AWS's DIGEST and key-state behaviour (see the header); stopped after the file. */
export async function startMotoAsAws(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const child = spawn(motoPython(), ['-c', MOTO_AS_AWS, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
  });
  recordChild(child, ['moto_server (DIGEST as AWS)']);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`patched moto_server exited: ${stderr}`);
    const ok = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`patched moto_server did not answer: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, stop: () => child.kill('SIGTERM') };
}
