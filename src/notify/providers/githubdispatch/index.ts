// GitHub repository dispatch (`type: githubdispatch`), as Flux's notifier/github_dispatch.go: a
// `repository_dispatch` event for the repository the address names, `event_type` `Kind/name.namespace` and the
// Flux event as `client_payload`, authenticated with the Secret's token. github.com goes to api.github.com;
// any other host is GitHub Enterprise Server (`<origin>/api/v3`).
import { fluxEventPayload, type NotifyEvent } from "../../event.js";
import { isCommitStatusUpdate, jsonHeaders } from "../shared/format.js";
import type { NotificationProvider, ProviderSettings, SettingsProblem } from "../types.js";

export interface DispatchTarget {
  /** `https://api.github.com/repos/<owner>/<repo>/dispatches`. */
  url: string;
  owner: string;
  repo: string;
}

/** The dispatches endpoint for a repository URL (`https://github.com/org/repo`, `.git` allowed). */
export function dispatchTarget(address: string): DispatchTarget | string {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return "is not a repository URL (https://github.com/<owner>/<repo>)";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return "must be an https:// repository URL (https://github.com/<owner>/<repo>)";
  }
  const parts = url.pathname
    .replace(/\.git$/, "")
    .split("/")
    .filter(Boolean);
  const valid = /^[A-Za-z0-9_.-]+$/;
  if (parts.length !== 2 || !parts.every((p) => valid.test(p) && p !== "." && p !== "..")) {
    return "must name one repository: https://github.com/<owner>/<repo>";
  }
  const [owner, repo] = parts as [string, string];
  const api = url.hostname.toLowerCase() === "github.com" ? "https://api.github.com" : `${url.origin}/api/v3`;
  return { url: `${api}/repos/${owner}/${repo}/dispatches`, owner, repo };
}

/** Flux's event_type: `Kustomization/apps.flux-system`. */
export function dispatchEventType(event: NotifyEvent): string {
  const { kind, name, namespace } = event.involvedObject;
  return `${kind}/${name}.${namespace}`;
}

function problem(settings: ProviderSettings): SettingsProblem | undefined {
  if (!settings.address) return { field: "spec.address", message: "is required (the repository's URL)" };
  const target = dispatchTarget(settings.address);
  if (typeof target === "string") {
    return { field: settings.addressFromSecret ? "the Secret's address" : "spec.address", message: target };
  }
  if (!settings.token) {
    return { field: "spec.secretRef", message: "githubdispatch needs a GitHub token as the Secret's token" };
  }
  return undefined;
}

export const githubDispatchProvider: NotificationProvider = {
  type: "githubdispatch",
  check: problem,
  async send(event, settings, io) {
    if (isCommitStatusUpdate(event)) return { skipped: "a commit status update (Flux does not post these)" };
    const target = dispatchTarget(settings.address!) as DispatchTarget;
    await io.postJson({
      url: target.url,
      body: JSON.stringify({ event_type: dispatchEventType(event), client_payload: fluxEventPayload(event) }),
      headers: jsonHeaders({
        accept: "application/vnd.github+json",
        authorization: `Bearer ${settings.token}`,
        "x-github-api-version": "2022-11-28",
      }),
    });
    return { sent: true };
  },
};
