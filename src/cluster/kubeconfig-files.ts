// Which kubeconfig a run reads, the way kubectl finds it ($KUBECONFIG's files, else ~/.kube/config, else the
// in-cluster ServiceAccount), with errors that say what is missing and what to do instead of client-node's
// ENOENT or the "http://localhost:8080" stand-in it falls back to when there is no kubeconfig at all.
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export class KubeConfigError extends Error {}

export interface KubeConfigSource {
  /** An explicit kubeconfig file. */
  kubeconfig?: string;
  /** How the user gave that file, for the message: `--kubeconfig`, `clusters[0].kubeconfig in gitops-bot.yaml`. */
  kubeconfigFrom?: string;
}

const NEXT_STEP = "pass --kubeconfig <file>, set KUBECONFIG, or run inside a cluster";

/** Loads the kubeconfig `source` names (else the default one) into `kc`, or throws a KubeConfigError. */
export function loadKubeConfigFiles(
  kc: KubeConfig,
  source: KubeConfigSource,
  env: Record<string, string | undefined> = process.env,
): void {
  if (source.kubeconfig) {
    const from = source.kubeconfigFrom ? ` (${source.kubeconfigFrom})` : "";
    if (!existsSync(source.kubeconfig)) {
      throw new KubeConfigError(
        `the kubeconfig ${source.kubeconfig}${from} does not exist: give the path of an existing kubeconfig file`,
      );
    }
    loadFile(kc, source.kubeconfig);
    return;
  }
  if (env.KUBECONFIG) {
    // kubectl skips the files of the list that do not exist; it refuses only when none does.
    const files = env.KUBECONFIG.split(delimiter).filter(Boolean);
    const present = files.filter((f) => existsSync(f));
    const [first, ...others] = present;
    if (!first) {
      throw new KubeConfigError(
        `KUBECONFIG names ${files.join(", ")}, and no such file exists: set KUBECONFIG to your kubeconfig file or pass --kubeconfig <file>`,
      );
    }
    loadFile(kc, first);
    for (const file of others) {
      const more = new (kc.constructor as new () => KubeConfig)();
      loadFile(more, file);
      kc.mergeConfig(more, Boolean(kc.currentContext));
    }
    return;
  }
  const home = env.HOME ? join(env.HOME, ".kube", "config") : undefined;
  if (home && existsSync(home)) {
    loadFile(kc, home);
    return;
  }
  if (existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
    return;
  }
  throw new KubeConfigError(
    `no kubeconfig found: KUBECONFIG is not set and ${home ?? "~/.kube/config"} does not exist; ${NEXT_STEP}`,
  );
}

function loadFile(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new KubeConfigError(`the kubeconfig ${file} cannot be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
