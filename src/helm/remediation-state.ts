// Install and upgrade failures counted across runs, as helm-controller counts them in a HelmRelease's
// status (`installFailures`, `upgradeFailures`): gitops-bot has no HelmRelease object in the cluster, and a
// failed install may be uninstalled with its release Secrets, so the count lives in a Secret of its own beside
// Helm's storage, in the release's namespace (`gitops-bot.helm-remediation.<release>`; type
// `gitops-bot.dev/helm-remediation`; labelled with the HelmRelease and scope). A Secret because whoever may
// run helm there may write Secrets (Helm's storage is Secrets), and it survives restarts and is shared by
// every replica. The count is reset (as Flux's MustResetFailures does on a new generation, chart version or
// values) when the desired state it was counted for changes, and the Secret is deleted when a release
// succeeds or its HelmRelease leaves Git.
//
// Anyone who may write Secrets in that namespace can change the count; what is read is checked and bounded,
// and the worst a forged count can do is retry sooner or stop retrying — which writing Helm's own release
// Secrets there could do as well.
import { createHash } from "node:crypto";
import { type KubernetesObject, PatchStrategy } from "@kubernetes/client-node";
import { z } from "zod";
import { apiMessage, apiStatus, type RawObjectApi } from "../cluster/kube-client.js";
import type { FluxHelmRelease } from "../flux/helm-release.js";
import { HR_NAME_LABEL, HR_NAMESPACE_LABEL, SCOPE_LABEL } from "./storage.js";
import { canonicalJson } from "./values.js";

export const REMEDIATION_SECRET_TYPE = "gitops-bot.dev/helm-remediation";
export const REMEDIATION_LABEL = "gitops-bot.dev/helm-remediation";
const FIELD_MANAGER = "gitops-bot";
const MAX_MESSAGE = 1024;
/** More than any retries setting needs; a larger stored number is someone else's writing. */
const MAX_COUNT = 1_000_000;

export type RemediatedAction = "install" | "upgrade";

const stateSchema = z.strictObject({
  /** What the failures were counted for (desiredStateKey). */
  desired: z.string().regex(/^[0-9a-f]{64}$/),
  installFailures: z.number().int().min(0).max(MAX_COUNT),
  upgradeFailures: z.number().int().min(0).max(MAX_COUNT),
  lastFailure: z.string().max(MAX_MESSAGE).optional(),
});

export type RemediationState = z.infer<typeof stateSchema>;

export function remediationSecretName(releaseName: string): string {
  return `gitops-bot.helm-remediation.${releaseName}`;
}

/**
 * What the failures are counted for: the release digest (chart, version, values, post-renderers) and the whole
 * HelmRelease spec (Flux resets on a new generation, i.e. any spec change).
 */
export function desiredStateKey(hr: FluxHelmRelease, releaseDigest: string): string {
  return createHash("sha256")
    .update(`${releaseDigest}\n${canonicalJson(hr.spec)}`)
    .digest("hex");
}

interface StateSecret extends KubernetesObject {
  type?: string;
  data?: Record<string, string>;
}

/** The failure counts of one release for one desired state, read once and written on every change. */
export class FailureCounter {
  private stored?: StateSecret;
  private state: RemediationState;
  /** Why the stored count could not be used or written (shown in the result's errors). */
  readonly problems: string[] = [];

  private constructor(
    private readonly api: RawObjectApi,
    private readonly hr: FluxHelmRelease,
    private readonly scope: string,
    desired: string,
  ) {
    this.state = { desired, installFailures: 0, upgradeFailures: 0 };
  }

  /** Loads the count of `hr`'s release; a count made for another desired state starts over. */
  static async load(
    api: RawObjectApi,
    hr: FluxHelmRelease,
    scopeHash: string,
    desired: string,
  ): Promise<FailureCounter> {
    const counter = new FailureCounter(api, hr, scopeHash, desired);
    try {
      counter.stored = (await api.read({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: remediationSecretName(hr.releaseName), namespace: hr.releaseNamespace },
      })) as StateSecret;
    } catch (err) {
      if (apiStatus(err) !== 404) counter.problems.push(`reading the failure count: ${apiMessage(err)}`);
      return counter;
    }
    const parsed = parseState(counter.stored);
    if (!parsed) {
      counter.problems.push(
        `Secret ${hr.releaseNamespace}/${remediationSecretName(hr.releaseName)} does not hold a failure count; counting from zero`,
      );
    } else if (parsed.desired === desired) {
      counter.state = parsed;
    }
    return counter;
  }

  failures(action: RemediatedAction): number {
    return action === "install" ? this.state.installFailures : this.state.upgradeFailures;
  }

  get lastFailure(): string | undefined {
    return this.state.lastFailure;
  }

  /** Counts one more failure of `action` and stores it; returns the new count. */
  async recordFailure(action: RemediatedAction, message: string): Promise<number> {
    const key = action === "install" ? "installFailures" : "upgradeFailures";
    this.state = {
      ...this.state,
      [key]: Math.min(MAX_COUNT, this.state[key] + 1),
      lastFailure: message.slice(0, MAX_MESSAGE),
    };
    await this.save();
    return this.state[key];
  }

  /** The release is as desired: the count is no longer needed. */
  async clear(): Promise<void> {
    this.state = { desired: this.state.desired, installFailures: 0, upgradeFailures: 0 };
    // Only ours: a Secret of another type that happens to carry the name is left alone.
    if (this.stored?.type !== REMEDIATION_SECRET_TYPE) return;
    try {
      await this.api.delete({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: remediationSecretName(this.hr.releaseName), namespace: this.hr.releaseNamespace },
      });
    } catch (err) {
      if (apiStatus(err) !== 404) this.problems.push(`deleting the failure count: ${apiMessage(err)}`);
    }
    this.stored = undefined;
  }

  private body(): StateSecret {
    return {
      apiVersion: "v1",
      kind: "Secret",
      type: REMEDIATION_SECRET_TYPE,
      metadata: {
        name: remediationSecretName(this.hr.releaseName),
        namespace: this.hr.releaseNamespace,
        labels: {
          [REMEDIATION_LABEL]: "true",
          [HR_NAME_LABEL]: this.hr.name,
          [HR_NAMESPACE_LABEL]: this.hr.namespace,
          [SCOPE_LABEL]: this.scope,
        },
      },
      data: { state: Buffer.from(JSON.stringify(this.state)).toString("base64") },
    };
  }

  /**
   * Server-side apply (create or update in one call, with the verbs the engine's role has: no `update`). One
   * run holds a release at a time (per-target locking), so the last writer is the one that counted.
   */
  private async save(): Promise<void> {
    try {
      this.stored = (await this.api.patch(
        this.body(),
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      )) as StateSecret;
    } catch (err) {
      this.problems.push(`storing the failure count: ${apiMessage(err)}`);
    }
  }
}

function parseState(secret: StateSecret): RemediationState | undefined {
  if (secret.type !== REMEDIATION_SECRET_TYPE) return undefined;
  const raw = secret.data?.state;
  if (typeof raw !== "string" || raw.length > 8 * 1024) return undefined;
  try {
    const parsed = stateSchema.safeParse(JSON.parse(Buffer.from(raw, "base64").toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Deletes the failure counts of this scope whose HelmRelease is not `present` (left Git). */
export async function pruneFailureCounts(
  api: RawObjectApi,
  scopeHash: string,
  present: Set<string>,
): Promise<void> {
  const list = (await api.list(
    "v1",
    "Secret",
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    `${REMEDIATION_LABEL}=true,${SCOPE_LABEL}=${scopeHash}`,
  )) as { items?: StateSecret[] };
  for (const secret of list.items ?? []) {
    const labels = secret.metadata?.labels ?? {};
    if (secret.type !== REMEDIATION_SECRET_TYPE) continue;
    if (present.has(`${labels[HR_NAMESPACE_LABEL]}/${labels[HR_NAME_LABEL]}`)) continue;
    const name = secret.metadata?.name;
    if (!name) continue;
    // A listed item carries no apiVersion or kind.
    const header = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: secret.metadata?.namespace },
    };
    await api.delete(header).catch((err: unknown) => {
      if (apiStatus(err) !== 404) throw err;
    });
  }
}
