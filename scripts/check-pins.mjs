#!/usr/bin/env node
/**
 * Lock-step pins (CI: `node scripts/check-pins.mjs`). kagi imports three packages directly that
 * another dependency also uses, and must use the very same version:
 *  - @noble/curves = viem's: keys are derived and signed with noble's secp256k1 and checked
 *    with viem; one copy, one set of curve parameters and fixes.
 *  - @smithy/node-http-handler = @aws-sdk/client-kms's: the KMS client is given our
 *    NodeHttpHandler (timeouts, keep-alive); a second copy of another version is a different
 *    class with its own agent handling.
 *  - express = @nestjs/platform-express's: configure-app.ts installs express.json() (its body
 *    parser and limits) on the express app Nest serves; one copy, one version of both.
 * Read from package.json and package-lock.json (what `npm ci` installs). One line per pin;
 * exit 1 when any differs.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages;

const PINS = [
  { name: '@noble/curves', owner: 'viem' },
  { name: '@smithy/node-http-handler', owner: '@aws-sdk/client-kms' },
  { name: 'express', owner: '@nestjs/platform-express' },
];

let failed = false;
for (const { name, owner } of PINS) {
  const ours = pkg.dependencies?.[name];
  const ownerEntry = lock[`node_modules/${owner}`];
  // What the owner really loads: its own nested copy if npm had to install one, else the top-level one.
  const theirs = (lock[`node_modules/${owner}/node_modules/${name}`] ?? lock[`node_modules/${name}`])?.version;
  const installed = lock[`node_modules/${name}`]?.version;
  const declared = ours?.replace(/^[\^~=]/, '');
  if (!ours || !ownerEntry || !theirs) {
    console.log(
      `pin ${name}: cannot check (package.json has ${ours ?? 'no entry'}, lock has ${owner} ${ownerEntry?.version ?? 'missing'})`,
    );
    failed = true;
  } else if (declared !== theirs || installed !== theirs) {
    console.log(
      `pin ${name}: package.json has ${ours} (installed ${installed}) but ${owner} ${ownerEntry.version} uses ${theirs}; set "${name}": "${ours.startsWith('^') ? '^' : ''}${theirs}" and run npm install`,
    );
    failed = true;
  } else {
    console.log(`pin ${name}: ${ours} = ${owner} ${ownerEntry.version}'s ${theirs}`);
  }
}
process.exit(failed ? 1 : 0);
