// The process as the container starts it: the Dockerfile's CMD (`node dist/server.js`) with the environment
// the image and the Deployment give it — NODE_ENV=production, HOME and TMPDIR on their own (emptyDir)
// directories, the operator file from the base's ConfigMap, credentials from the app Secret. No image can be
// built here (no base image can be pulled), so this runs the compiled server the same way.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  type BuiltServer,
  buildServer,
  startServer,
  testAppKey,
  untilHealthy,
} from "../security/server-process.js";
import { deployDir, kustomizeBuild } from "./kustomize-apply.js";

let built: BuiltServer;
const emptyDirs: string[] = [];
beforeAll(() => {
  built = buildServer();
}, 120_000);
afterAll(() => {
  built?.remove();
  for (const dir of emptyDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, as the Deployment's HOME and TMPDIR emptyDirs are. */
function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-emptydir-"));
  emptyDirs.push(dir);
  return dir;
}

const dockerfile = readFileSync(join(deployDir, "Dockerfile"), "utf8");

/** The runtime stage: everything after the last FROM. */
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

/** `ENV A=1 \ B=2` of the runtime stage, as a map. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const block = /\nENV ((?:[^\n]*\\\n)*[^\n]*)/.exec(runtimeStage)?.[1] ?? "";
  for (const [, name, value] of block.matchAll(/([A-Z_]+)=(\S+)/g)) env[name as string] = value as string;
  return env;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { key: string } };
}

function baseObjects(): KubernetesObject[] {
  return parseAllDocuments(kustomizeBuild(`${deployDir}base`).stdout).map(
    (d) => d.toJS() as KubernetesObject,
  );
}

/** The Deployment's container environment: literal values, and Secret keys resolved from `secret`. */
function deploymentEnv(secret: Record<string, string>): Record<string, string> {
  const deployment = baseObjects().find((o) => o.kind === "Deployment") as unknown as {
    spec: { template: { spec: { containers: { env: EnvVar[] }[] } } };
  };
  const env: Record<string, string> = {};
  for (const e of deployment.spec.template.spec.containers[0]?.env ?? []) {
    const key = e.valueFrom?.secretKeyRef?.key;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (key && secret[key] !== undefined) env[e.name] = secret[key] as string;
  }
  return env;
}

/** The operator file the base's ConfigMap carries. */
function shippedOperatorFile(): string {
  const cm = baseObjects().find((o) => o.kind === "ConfigMap") as unknown as { data: Record<string, string> };
  return cm.data["gitops-bot.yaml"] as string;
}

function secretTemplate(): Record<string, string> {
  const doc = parseAllDocuments(readFileSync(join(deployDir, "base/secret-template.yaml"), "utf8"))[0];
  if (!doc) throw new Error("secret-template.yaml holds no document");
  return (doc.toJS() as { stringData: Record<string, string> }).stringData;
}

/**
 * Environment of the container, on this machine: HOME and TMPDIR are fresh directories (the emptyDirs), the
 * operator file is the base's ConfigMap, written into the working directory.
 */
function containerEnv(secret: Record<string, string>, home: string, operatorFile: string): NodeJS.ProcessEnv {
  // PORT stays the free port startServer picked (3000 in the pod).
  const { PORT: _imagePort, ...image } = imageEnv();
  const { PORT: _podPort, ...pod } = deploymentEnv(secret);
  return {
    ...image,
    ...pod,
    HOME: home,
    TMPDIR: home,
    GITOPS_BOT_CONFIG: operatorFile,
    GITOPS_BOT_KUSTOMIZE: "kustomize",
    GITOPS_BOT_HELM: "helm",
  };
}

describe("the container's process", () => {
  it("the image runs `node dist/server.js` as a fixed non-root user, in production", () => {
    expect(runtimeStage).toMatch(/\nCMD \["node", "dist\/server\.js"\]/);
    expect(runtimeStage).toMatch(/\nUSER 10001:10001/);
    expect(imageEnv()).toMatchObject({ NODE_ENV: "production", HOST: "0.0.0.0", HOME: "/home/gitops-bot" });
    // The Dockerfile's pinned versions are those the test suite runs.
    const pins = readFileSync(join(deployDir, "../scripts/test-binaries.sh"), "utf8");
    for (const tool of ["KUSTOMIZE", "HELM", "SOPS"]) {
      const pinned = new RegExp(`${tool}_VERSION=\\$\\{${tool}_VERSION:-(v[\\d.]+)\\}`).exec(pins)?.[1];
      expect(pinned).toBeDefined();
      expect(dockerfile).toContain(`ARG ${tool}_VERSION=${pinned}`);
    }
  });

  it("refuses to start with the Secret template's placeholders", { timeout: 60_000 }, async () => {
    const server = await startServer(built, {
      env: containerEnv(secretTemplate(), emptyDir(), "gitops-bot.yaml"),
      files: { "gitops-bot.yaml": shippedOperatorFile() },
    });
    try {
      expect(await server.exited).not.toBe(0);
      expect(server.output()).toMatch(/APP_ID must be the numeric ID of the GitHub App/);
      expect(await server.healthy()).toBe(false);
    } finally {
      server.dispose();
    }
  });

  it("refuses the template's webhook secret placeholder even with a real app id", {
    timeout: 60_000,
  }, async () => {
    const secret = { ...secretTemplate(), APP_ID: "123", PRIVATE_KEY: testAppKey() };
    const server = await startServer(built, {
      env: containerEnv(secret, emptyDir(), "gitops-bot.yaml"),
      files: { "gitops-bot.yaml": shippedOperatorFile() },
    });
    try {
      expect(await server.exited).not.toBe(0);
      expect(server.output()).toMatch(/WEBHOOK_SECRET is required when NODE_ENV=production/);
      expect(server.output()).not.toContain(secretTemplate().WEBHOOK_SECRET);
    } finally {
      server.dispose();
    }
  });

  it("starts with real credentials and the shipped operator file, writing nothing outside HOME and TMPDIR", {
    timeout: 60_000,
  }, async () => {
    const secret = {
      APP_ID: "123",
      PRIVATE_KEY: testAppKey(),
      WEBHOOK_SECRET: "9f2c7e1a4b8d3f6e0a5c9b2d7e4f1a8c",
    };
    // No image automation: it would list installations on GitHub at start-up.
    const operator = `${shippedOperatorFile()}images:\n  enabled: false\n`;
    const server = await startServer(built, {
      env: containerEnv(secret, emptyDir(), "gitops-bot.yaml"),
      files: { "gitops-bot.yaml": operator },
    });
    try {
      const before = readdirSync(server.cwd).sort();
      await untilHealthy(server);
      // HOST=0.0.0.0 from the image: reachable on the pod's address, not only loopback.
      const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      expect(health.status).toBe(200);
      expect(server.output()).toMatch(/gitops-bot started/);
      // The working directory stands for the read-only root filesystem: nothing new appears in it.
      expect(readdirSync(server.cwd).sort()).toEqual(before);
      expect(server.output()).not.toContain(secret.WEBHOOK_SECRET);
    } finally {
      server.dispose();
    }
  });
});
