// One image-update pull request per ImageUpdateAutomation, written through GitHub's git data API (no clone;
// commits made by the app are signed by GitHub and show as verified).
//
//   base has the newest tags already  → an open PR is closed with a comment
//   open PR proposes the same tags    → nothing to do
//   otherwise                         → one commit on the base head, force-pushed to the PR branch; the PR is
//                                       created or its title and body updated
//
// A PR closed without merging is a rejection: the tags it proposed are not proposed again, a newer tag is.
// Each PR body carries its proposal in a hidden marker so the next scan can read that history back.
import type { Octokit } from "@octokit/rest";
import type { Logger } from "pino";
import { ManifestError } from "../flux/errors.js";
import { isUnder, isYamlFile, normaliseRepositoryPath, type RepositoryFiles } from "./repository-files.js";
import { type ImageUpdateAutomation, objectKey } from "./resources.js";
import type { LatestImage, SetterChange } from "./setters.js";
import { type ImageUpdatePlan, planImageUpdate } from "./update.js";

/** The Octokit calls this module makes; a probot context.octokit or an @octokit/rest instance both fit. */
export type GitHubClient = Pick<Octokit, "rest">;

export interface ImageUpdatePullRequestOptions {
  octokit: GitHubClient;
  owner: string;
  repo: string;
  automation: ImageUpdateAutomation;
  /** What the policies chose, keyed `namespace/name`. */
  latest: ReadonlyMap<string, LatestImage>;
  /** Default: `git.checkout.ref.branch`, else the repository's default branch. */
  baseBranch?: string;
  /**
   * Default: `git.push.branch` when it differs from the base, else `gitops-bot/image-updates/<automation>`.
   * Either way it must be under BOT_BRANCH_PREFIX: the bot force-pushes nowhere else.
   */
  branch?: string;
  logger?: Pick<Logger, "info">;
}

export type PullRequestAction = "created" | "updated" | "unchanged" | "closed" | "none";

export interface PullRequestOutcome {
  action: PullRequestAction;
  branch: string;
  base: string;
  number?: number;
  changes: SetterChange[];
  /** `namespace/name=tag` proposals skipped because a closed, unmerged PR proposed them. */
  rejected: string[];
}

const markerPrefix = "<!-- gitops-bot:image-updates ";
const markerSuffix = " -->";

interface ProposalMarker {
  automation: string;
  /** policy (`namespace/name`) → tag */
  proposal: Record<string, string>;
  /** Set when the bot itself closed the PR: such a PR is not a rejection. */
  outcome?: "in-base";
}

/** The only branches the bot writes (and force-pushes): its own, one per automation by default. */
export const BOT_BRANCH_PREFIX = "gitops-bot/image-updates/";

export function defaultBranchName(automation: ImageUpdateAutomation): string {
  return `${BOT_BRANCH_PREFIX}${automation.name}`;
}

/**
 * The branch an automation's pull request lives on. `git.push.branch` may name a branch under the bot's prefix;
 * naming the base (Flux's "push to the checkout branch") means a pull request from the bot's default branch,
 * never a push to the base. Any other branch (main, the default branch, another team's) is refused: the bot
 * rebuilds its branch on every scan and force-pushes it, which would destroy work on someone else's branch.
 */
export function imageUpdateBranch(
  automation: ImageUpdateAutomation,
  base: string,
  requested?: string,
): string {
  const pushBranch = automation.spec.git?.push?.branch;
  const branch =
    requested ?? (pushBranch && pushBranch !== base ? pushBranch : defaultBranchName(automation));
  if (branch.startsWith(BOT_BRANCH_PREFIX) && branch.length > BOT_BRANCH_PREFIX.length) return branch;
  throw new ManifestError(
    {
      file: automation.file,
      object: `ImageUpdateAutomation/${automation.namespace}/${automation.name}`,
      field: "spec.git.push.branch",
    },
    `${JSON.stringify(branch)} is not a branch of this bot: it only pushes (with force) to branches under ` +
      `${BOT_BRANCH_PREFIX} and proposes them as pull requests to ${JSON.stringify(base)}. Name a branch under ` +
      `${BOT_BRANCH_PREFIX}, or remove git.push.branch to use ${defaultBranchName(automation)}`,
  );
}

export async function syncImageUpdatePullRequest(
  options: ImageUpdatePullRequestOptions,
): Promise<PullRequestOutcome> {
  const { octokit, owner, repo, automation } = options;
  const git = octokit.rest.git;
  const spec = automation.spec.git;
  const base =
    options.baseBranch ??
    spec?.checkout?.ref?.branch ??
    (await octokit.rest.repos.get({ owner, repo })).data.default_branch;
  const branch = imageUpdateBranch(automation, base, options.branch);

  const baseSha = (await git.getRef({ owner, repo, ref: `heads/${base}` })).data.object.sha;
  const baseTree = (await git.getCommit({ owner, repo, commit_sha: baseSha })).data.tree.sha;
  const files = await githubRepositoryFiles(octokit, owner, repo, baseTree);

  const pulls = (
    await octokit.rest.pulls.list({
      owner,
      repo,
      head: `${owner}:${branch}`,
      base,
      state: "all",
      per_page: 100,
    })
  ).data;
  const open = pulls.find((pull) => pull.state === "open");
  const rejected = new Set<string>();
  for (const pull of pulls) {
    if (pull.state !== "closed" || pull.merged_at) continue;
    const marker = readMarker(pull.body);
    if (!marker || marker.outcome) continue;
    for (const [policy, tag] of Object.entries(marker.proposal)) rejected.add(`${policy}=${tag}`);
  }
  const latest = new Map(
    [...options.latest].filter(([policy, image]) => !rejected.has(`${policy}=${image.tag}`)),
  );
  const skipped = [...options.latest]
    .filter(([policy, image]) => rejected.has(`${policy}=${image.tag}`))
    .map(([policy, image]) => `${policy}=${image.tag}`);

  const plan = await planImageUpdate(files, automation.spec.update.path, latest);
  const outcome = { branch, base, changes: plan.changes, rejected: skipped };
  const automationKey = objectKey(automation);

  if (plan.changes.length === 0) {
    if (!open) return { ...outcome, action: "none" };
    await octokit.rest.issues.createComment({
      owner,
      repo,
      issue_number: open.number,
      body: `The newest images chosen by the policies of \`${automationKey}\` are already in \`${base}\`; closing.`,
    });
    const previous = readMarker(open.body);
    await octokit.rest.pulls.update({
      owner,
      repo,
      pull_number: open.number,
      state: "closed",
      body: withMarker(stripMarker(open.body ?? ""), {
        automation: automationKey,
        proposal: previous?.proposal ?? {},
        outcome: "in-base",
      }),
    });
    options.logger?.info(
      { automation: automationKey, pull: open.number },
      "closed image update PR: base is current",
    );
    return { ...outcome, action: "closed", number: open.number };
  }

  const proposal = proposalOf(plan, latest);
  const openMarker = open ? readMarker(open.body) : undefined;
  if (open && openMarker && sameProposal(openMarker.proposal, proposal)) {
    return { ...outcome, action: "unchanged", number: open.number };
  }

  const modes = await files.modes();
  const tree = await git.createTree({
    owner,
    repo,
    base_tree: baseTree,
    tree: plan.files.map((file) => ({
      path: file.file,
      mode: fileMode(modes.get(file.file)),
      type: "blob" as const,
      content: file.after,
    })),
  });
  const commit = await git.createCommit({
    owner,
    repo,
    message: commitMessage(automationKey, plan, latest),
    tree: tree.data.sha,
    parents: [baseSha],
  });
  await pointBranchAt(octokit, owner, repo, branch, commit.data.sha);

  const title = pullRequestTitle(automationKey, proposal);
  const body = withMarker(pullRequestBody(automationKey, plan, latest), {
    automation: automationKey,
    proposal,
  });
  if (open) {
    await octokit.rest.pulls.update({ owner, repo, pull_number: open.number, title, body });
    options.logger?.info({ automation: automationKey, pull: open.number }, "updated image update PR");
    return { ...outcome, action: "updated", number: open.number };
  }
  const created = await octokit.rest.pulls.create({ owner, repo, title, head: branch, base, body });
  options.logger?.info({ automation: automationKey, pull: created.data.number }, "opened image update PR");
  return { ...outcome, action: "created", number: created.data.number };
}

/** Keeps an executable bit; anything else a setter edits is a regular file. */
function fileMode(mode: string | undefined): "100644" | "100755" {
  return mode === "100755" ? "100755" : "100644";
}

async function pointBranchAt(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  branch: string,
  sha: string,
) {
  // The last line of defence: whatever computed `branch`, nothing outside the bot's prefix is written.
  if (!branch.startsWith(BOT_BRANCH_PREFIX)) {
    throw new Error(
      `${owner}/${repo}: refusing to write branch ${JSON.stringify(branch)} outside ${BOT_BRANCH_PREFIX}`,
    );
  }
  try {
    await octokit.rest.git.getRef({ owner, repo, ref: `heads/${branch}` });
  } catch (error) {
    if ((error as { status?: number }).status !== 404) throw error;
    await octokit.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha });
    return;
  }
  // The branch belongs to the bot: it is rebuilt on the base every time, hence force.
  await octokit.rest.git.updateRef({ owner, repo, ref: `heads/${branch}`, sha, force: true });
}

/** The YAML files of a tree on GitHub, read through the git data API (one tree call, one call per file read). */
export async function githubRepositoryFiles(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  treeSha: string,
): Promise<RepositoryFiles & { modes(): Promise<Map<string, string>> }> {
  const tree = (await octokit.rest.git.getTree({ owner, repo, tree_sha: treeSha, recursive: "true" })).data;
  if (tree.truncated) {
    throw new Error(`${owner}/${repo}: the repository tree is too large for one GitHub API call (truncated)`);
  }
  const blobs = new Map<string, { sha: string; mode: string }>();
  for (const entry of tree.tree) {
    if (entry.type === "blob" && entry.path && entry.sha && isYamlFile(entry.path)) {
      blobs.set(entry.path, { sha: entry.sha, mode: entry.mode ?? "100644" });
    }
  }
  return {
    async listYamlFiles(dir) {
      const normal = normaliseRepositoryPath(dir);
      return [...blobs.keys()].filter((path) => isUnder(path, normal)).sort();
    },
    async read(file) {
      const blob = blobs.get(file);
      if (!blob) throw new Error(`${owner}/${repo}: no file ${file}`);
      const data = (await octokit.rest.git.getBlob({ owner, repo, file_sha: blob.sha })).data;
      return Buffer.from(data.content, data.encoding === "base64" ? "base64" : "utf8").toString("utf8");
    },
    async modes() {
      return new Map([...blobs].map(([path, blob]) => [path, blob.mode]));
    },
  };
}

function proposalOf(plan: ImageUpdatePlan, latest: ReadonlyMap<string, LatestImage>): Record<string, string> {
  const proposal: Record<string, string> = {};
  for (const change of plan.changes) {
    const chosen = latest.get(change.policy);
    if (chosen) proposal[change.policy] = chosen.tag;
  }
  return Object.fromEntries(Object.entries(proposal).sort(([a], [b]) => a.localeCompare(b)));
}

function sameProposal(a: Record<string, string>, b: Record<string, string>): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

function pullRequestTitle(automation: string, proposal: Record<string, string>): string {
  const entries = Object.entries(proposal);
  const summary = entries.map(([policy, tag]) => `${policy.split("/")[1]} ${tag}`).join(", ");
  return entries.length <= 3
    ? `Update images: ${summary}`
    : `Update ${entries.length} images (${automation})`;
}

interface ImageRow {
  image: string;
  from: Set<string>;
  to: string;
  files: Set<string>;
}

function rows(plan: ImageUpdatePlan, latest: ReadonlyMap<string, LatestImage>): ImageRow[] {
  const byPolicy = new Map<string, ImageRow>();
  for (const change of plan.changes) {
    const chosen = latest.get(change.policy);
    if (!chosen) continue;
    const row = byPolicy.get(change.policy) ?? {
      image: chosen.image,
      from: new Set(),
      to: chosen.tag,
      files: new Set(),
    };
    if (change.field === "tag") row.from.add(change.from);
    if (change.field === "image") row.from.add(tagOf(change.from));
    row.files.add(change.file);
    byPolicy.set(change.policy, row);
  }
  return [...byPolicy.values()];
}

/** `ghcr.io/org/app:1.2.3` → `1.2.3`; a registry port is not a tag. */
function tagOf(reference: string): string {
  const colon = reference.lastIndexOf(":");
  return colon > reference.lastIndexOf("/") ? reference.slice(colon + 1) : "";
}

function pullRequestBody(
  automation: string,
  plan: ImageUpdatePlan,
  latest: ReadonlyMap<string, LatestImage>,
): string {
  const escapeCell = (text: string) => text.replaceAll("|", "\\|");
  const table = rows(plan, latest).map(
    (row) =>
      `| \`${escapeCell(row.image)}\` | ${[...row.from].map((t) => `\`${escapeCell(t || "(none)")}\``).join(", ") || "—"} → \`${escapeCell(row.to)}\` | ${[...row.files].map((f) => `\`${escapeCell(f)}\``).join(", ")} |`,
  );
  return [
    `Image updates chosen by the image policies of ImageUpdateAutomation \`${automation}\`.`,
    "",
    "| Image | Old → New | Files |",
    "| --- | --- | --- |",
    ...table,
    "",
    "Close this pull request without merging to skip these tags; a newer tag will be proposed again.",
  ].join("\n");
}

function commitMessage(
  automation: string,
  plan: ImageUpdatePlan,
  latest: ReadonlyMap<string, LatestImage>,
): string {
  const lines = rows(plan, latest).map(
    (row) => `- ${row.image}: ${[...row.from].join(", ") || "(none)"} → ${row.to}`,
  );
  return [`Update images (${automation})`, "", ...lines, ""].join("\n");
}

function withMarker(body: string, marker: ProposalMarker): string {
  return `${body}\n\n${markerPrefix}${JSON.stringify(marker)}${markerSuffix}`;
}

function stripMarker(body: string): string {
  const at = body.indexOf(markerPrefix);
  return at === -1 ? body : body.slice(0, at).trimEnd();
}

export function readMarker(body: string | null | undefined): ProposalMarker | undefined {
  if (!body) return undefined;
  const start = body.lastIndexOf(markerPrefix);
  if (start === -1) return undefined;
  const end = body.indexOf(markerSuffix, start + markerPrefix.length);
  if (end === -1) return undefined;
  try {
    const data = JSON.parse(body.slice(start + markerPrefix.length, end)) as Partial<ProposalMarker>;
    if (typeof data.automation !== "string" || typeof data.proposal !== "object" || data.proposal === null)
      return undefined;
    return data as ProposalMarker;
  } catch {
    return undefined;
  }
}
