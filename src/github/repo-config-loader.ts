// Reads `.github/gitops.yaml` from the default branch through the contents API.
import { ConfigError } from "../config/config-error.js";
import { parseRepoConfig, REPO_CONFIG_PATH, type RepoConfig } from "../config/repo-config.js";
import type { GitHubClient, RepoRef } from "./client.js";

export type LoadedRepoConfig =
  | { kind: "ok"; config: RepoConfig }
  /** No file: the repository does not use gitops-bot (yet); nothing to do, nothing to report. */
  | { kind: "absent" }
  | { kind: "invalid"; error: ConfigError };

export async function loadRepoConfig(
  github: GitHubClient,
  repo: RepoRef,
  defaultBranch: string,
): Promise<LoadedRepoConfig> {
  let text: string;
  try {
    const { data } = await github.rest.repos.getContent({
      ...repo,
      path: REPO_CONFIG_PATH,
      ref: defaultBranch,
    });
    if (Array.isArray(data) || data.type !== "file" || !("content" in data)) {
      return { kind: "invalid", error: new ConfigError(REPO_CONFIG_PATH, [{ message: "is not a file" }]) };
    }
    text = Buffer.from(data.content, "base64").toString("utf8");
  } catch (err) {
    if ((err as { status?: number }).status === 404) return { kind: "absent" };
    throw err;
  }
  try {
    return { kind: "ok", config: parseRepoConfig(text) };
  } catch (err) {
    if (err instanceof ConfigError) return { kind: "invalid", error: err };
    throw err;
  }
}
