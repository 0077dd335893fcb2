// SOPS decryption with the real sops binary and real age keys (made by age-keygen, both built by
// scripts/test-binaries.sh and put on PATH by the harness).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DecryptionError,
  decryptObjects,
  FORK_DECRYPTION_REASON,
  isSopsEncrypted,
} from "../../src/build/sops.js";
import { ageKeyPair, sopsEncrypt } from "../support/sops.js";

const CANARY = "sops-canary-7f3a9";
let dir: string;
let key: string;
let encrypted: KubernetesObject;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sops-test-"));
  const pair = await ageKeyPair(dir);
  key = pair.key;
  encrypted = await sopsEncrypt(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: "apps" },
      stringData: { password: CANARY },
      data: { token: Buffer.from(`${CANARY}-b64`).toString("base64") },
    } as KubernetesObject,
    pair.recipient,
    dir,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plainMap: KubernetesObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "plain" } };

describe("SOPS decryption", () => {
  it("decrypts objects with SOPS metadata using the age keys of the Secret, and returns their values to mask", async () => {
    expect(isSopsEncrypted(encrypted)).toBe(true);
    expect(JSON.stringify(encrypted)).not.toContain(CANARY);
    const read: Array<[string, string]> = [];
    const result = await decryptObjects(
      "Kustomization flux-system/apps",
      "flux-system",
      { provider: "sops", secretRef: { name: "sops-age" } },
      [plainMap, encrypted],
      {
        readSecret: async (ns, name) => {
          read.push([ns, name]);
          return { "age.agekey": key, "unrelated.txt": "x" };
        },
      },
    );
    expect(read).toEqual([["flux-system", "sops-age"]]);
    expect(result.objects[0]).toBe(plainMap);
    const secret = result.objects[1] as KubernetesObject & {
      stringData: Record<string, string>;
      sops?: unknown;
    };
    expect(secret.stringData.password).toBe(CANARY);
    expect(secret.sops).toBeUndefined();
    expect(result.secretValues).toContain(CANARY);
    expect(result.secretValues).toContain(`${CANARY}-b64`);
  });

  it("a fork's run reads no key and leaves encrypted objects out, saying why", async () => {
    const result = await decryptObjects(
      "Kustomization flux-system/apps",
      "flux-system",
      { provider: "sops", secretRef: { name: "sops-age" } },
      [plainMap, encrypted],
      {},
    );
    expect(result.objects).toEqual([plainMap]);
    expect(result.skipped).toEqual([{ object: encrypted, reason: FORK_DECRYPTION_REASON }]);
  });

  it.each([
    [
      undefined,
      { "age.agekey": "k" },
      "Kustomization flux-system/apps: Secret/apps/db is encrypted with SOPS but spec.decryption is not set (set provider: sops and secretRef)",
    ],
    [
      { provider: "sops" },
      { "age.agekey": "k" },
      "Kustomization flux-system/apps: spec.decryption.secretRef is required: gitops-bot decrypts with the age keys of a Secret",
    ],
    [
      { provider: "sops", secretRef: { name: "keys" } },
      { "key.asc": "pgp" },
      "Kustomization flux-system/apps: spec.decryption.secretRef: Secret flux-system/keys has no age key: it holds PGP keys, which gitops-bot does not support (age keys only)",
    ],
    [
      { provider: "sops", secretRef: { name: "keys" } },
      { other: "x" },
      "Kustomization flux-system/apps: spec.decryption.secretRef: Secret flux-system/keys has no age key: it has no entry ending in .agekey",
    ],
  ])("refuses %j with keys %j", async (decryption, data, message) => {
    await expect(
      decryptObjects("Kustomization flux-system/apps", "flux-system", decryption, [encrypted], {
        readSecret: async () => data,
      }),
    ).rejects.toThrow(new DecryptionError(message));
  });

  it("a wrong key fails naming the object, without printing any key", async () => {
    const other = await ageKeyPair(mkdtempSync(join(dir, "other-")));
    const err = await decryptObjects(
      "Kustomization flux-system/apps",
      "flux-system",
      { provider: "sops", secretRef: { name: "k" } },
      [encrypted],
      {
        readSecret: async () => ({ "age.agekey": other.key }),
      },
    ).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DecryptionError);
    expect((err as Error).message).toMatch(
      /^Kustomization flux-system\/apps: Secret\/apps\/db: SOPS decryption failed: /,
    );
    expect((err as Error).message).not.toMatch(/AGE-SECRET-KEY-1[0-9A-Z]{10}/);
    expect((err as Error).message).not.toContain(CANARY);
  });
});
