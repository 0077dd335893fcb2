// age keys and SOPS encryption for tests, with the real age-keygen and sops binaries (scripts/test-binaries.sh).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { runTool } from "../../src/util/child-process.js";

export async function ageKeyPair(where: string): Promise<{ key: string; recipient: string }> {
  const file = join(where, "key.txt");
  const { stderr } = await runTool({
    binary: "age-keygen",
    args: ["-o", file],
    timeoutMs: 10_000,
    maxOutputBytes: 1 << 16,
  });
  const recipient =
    /age1[0-9a-z]+/.exec(stderr)?.[0] ?? /age1[0-9a-z]+/.exec(readFileSync(file, "utf8"))?.[0];
  if (!recipient) throw new Error(`age-keygen printed no public key: ${stderr}`);
  return { key: readFileSync(file, "utf8"), recipient };
}

export async function sopsEncrypt(
  obj: KubernetesObject,
  recipient: string,
  where: string,
): Promise<KubernetesObject> {
  const file = join(where, `${obj.metadata?.name}.json`);
  writeFileSync(file, JSON.stringify(obj));
  const { stdout } = await runTool({
    binary: "sops",
    args: [
      "encrypt",
      "--age",
      recipient,
      "--encrypted-regex",
      "^(data|stringData)$",
      "--input-type",
      "json",
      "--output-type",
      "json",
      file,
    ],
    timeoutMs: 30_000,
    maxOutputBytes: 1 << 20,
  });
  return JSON.parse(stdout) as KubernetesObject;
}
