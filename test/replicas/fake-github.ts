// GitHub for bot processes of their own (nock reaches only the test's process): a small HTTP server on the
// loopback that answers what a push needs — an installation token, .github/gitops.yaml, the branch head, the
// tarball of a commit — and records every commit status and check run the bots write, in arrival order.
import { execFileSync } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedStatus {
  repo: string;
  sha: string;
  context: string;
  state: string;
  description: string;
  at: number;
}

export interface RecordedCheckRun {
  id: number;
  repo: string;
  sha: string;
  name: string;
  /** Every state it was given, in order (created first). */
  updates: Array<{ status?: string; conclusion?: string; title?: string }>;
}

export interface FakeRepository {
  /** `.github/gitops.yaml` on the default branch. */
  config: string;
  /** Where `master` points. */
  head: string;
  /** The directory holding each commit's tree. */
  trees: Map<string, string>;
}

export interface FakeGitHub {
  /** The value of GHE_HOST (with GHE_PROTOCOL=http). */
  host: string;
  repositories: Map<string, FakeRepository>;
  statuses: RecordedStatus[];
  checkRuns: Map<number, RecordedCheckRun>;
  /** Requests nothing here answers (the test fails on any). */
  unanswered: string[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d;
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

export async function startFakeGitHub(): Promise<FakeGitHub> {
  const repositories = new Map<string, FakeRepository>();
  const statuses: RecordedStatus[] = [];
  const checkRuns = new Map<number, RecordedCheckRun>();
  const unanswered: string[] = [];
  let nextCheckRun = 1;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname.replace(/^\/api\/v3/, "");
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (req.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
        return json(201, {
          token: "ghs_fake",
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: { contents: "read", statuses: "write", checks: "write" },
        });
      }
      if (req.method === "GET" && path === "/app/installations") return json(200, []);
      if (req.method === "GET" && path === "/app") {
        return json(200, { id: 1, slug: "gitops-bot", name: "gitops-bot", owner: { login: "acme" } });
      }
      const m = /^\/repos\/([^/]+)\/([^/]+)\/(.*)$/.exec(path);
      const full = m ? `${m[1]}/${m[2]}` : "";
      const repo = repositories.get(full);
      const rest = m?.[3] ?? "";
      if (repo && req.method === "GET" && /^contents\/\.github(%2F|\/)gitops\.yaml$/.test(rest)) {
        return json(200, {
          type: "file",
          encoding: "base64",
          size: repo.config.length,
          name: "gitops.yaml",
          path: ".github/gitops.yaml",
          content: Buffer.from(repo.config).toString("base64"),
          sha: "0".repeat(40),
        });
      }
      if (repo && req.method === "GET" && /^git\/ref\/heads(%2F|\/)master$/.test(rest)) {
        return json(200, { ref: "refs/heads/master", object: { sha: repo.head, type: "commit" } });
      }
      // A compare of two commits of the repository: their order is the order their trees were added (pushed).
      const compare = /^compare\/([0-9a-f]{40})\.\.\.([0-9a-f]{40})$/.exec(rest);
      if (repo && req.method === "GET" && compare?.[1] && compare[2]) {
        const order = [...repo.trees.keys()];
        const [from, to] = [order.indexOf(compare[1]), order.indexOf(compare[2])];
        if (from < 0 || to < 0) return json(404, { message: "Not Found" });
        const status = to > from ? "ahead" : to < from ? "behind" : "identical";
        return json(200, {
          status,
          ahead_by: Math.max(0, to - from),
          behind_by: Math.max(0, from - to),
          commits: [],
        });
      }
      const tarball = /^tarball\/([0-9a-f]{40})$/.exec(rest);
      const dir = tarball?.[1] ? repo?.trees.get(tarball[1]) : undefined;
      if (tarball?.[1] && dir) {
        const prefix = `${full.replace("/", "-")}-${tarball[1].slice(0, 7)}`;
        const tgz = execFileSync("tar", ["-czf", "-", "-C", dir, `--transform=s,^\\.,${prefix},`, "."]);
        res.writeHead(200, { "content-type": "application/x-gzip" });
        return res.end(tgz);
      }
      const status = /^statuses\/([0-9a-f]{40})$/.exec(rest);
      if (repo && req.method === "POST" && status?.[1]) {
        const b = JSON.parse(body) as { context: string; state: string; description?: string };
        statuses.push({
          repo: full,
          sha: status[1],
          context: b.context,
          state: b.state,
          description: b.description ?? "",
          at: Date.now(),
        });
        return json(201, { id: statuses.length });
      }
      if (repo && req.method === "POST" && rest === "check-runs") {
        const b = JSON.parse(body) as {
          head_sha: string;
          name: string;
          status?: string;
          conclusion?: string;
        };
        const id = nextCheckRun++;
        checkRuns.set(id, {
          id,
          repo: full,
          sha: b.head_sha,
          name: b.name,
          updates: [
            {
              ...(b.status ? { status: b.status } : {}),
              ...(b.conclusion ? { conclusion: b.conclusion } : {}),
            },
          ],
        });
        return json(201, { id });
      }
      // A commit's combined status: the latest of each context (a push job restarted after its replica was lost
      // looks here before it writes a final status of its own).
      const combined = /^commits\/([0-9a-f]{40})\/status$/.exec(rest);
      if (repo && req.method === "GET" && combined) {
        const latest = new Map<string, RecordedStatus>();
        for (const s of statuses) if (s.repo === full && s.sha === combined[1]) latest.set(s.context, s);
        const list = [...latest.values()].reverse();
        return json(200, {
          state: list.some((s) => s.state === "failure" || s.state === "error")
            ? "failure"
            : list.some((s) => s.state === "pending")
              ? "pending"
              : "success",
          sha: combined[1],
          total_count: list.length,
          statuses: list.map((s, i) => ({
            id: i + 1,
            context: s.context,
            state: s.state,
            description: s.description,
          })),
        });
      }
      // The check runs of a commit by name (a push job restarted after its replica was lost looks here).
      const listed = /^commits\/([0-9a-f]{40})\/check-runs$/.exec(rest);
      if (repo && req.method === "GET" && listed) {
        const name = url.searchParams.get("check_name");
        const runs = [...checkRuns.values()].filter(
          (c) => c.repo === full && c.sha === listed[1] && (!name || c.name === name),
        );
        return json(200, {
          total_count: runs.length,
          check_runs: runs.map((c) => ({
            id: c.id,
            name: c.name,
            head_sha: c.sha,
            external_id: c.name.replace(/^gitops \/ /, ""),
            status: completed(c) ? "completed" : (c.updates.at(-1)?.status ?? "queued"),
            conclusion: c.updates.findLast((u) => u.conclusion)?.conclusion ?? null,
          })),
        });
      }
      const patch = /^check-runs\/(\d+)$/.exec(rest);
      const run = patch?.[1] ? checkRuns.get(Number(patch[1])) : undefined;
      if (req.method === "PATCH" && run) {
        const b = JSON.parse(body) as { status?: string; conclusion?: string; output?: { title?: string } };
        run.updates.push({
          ...(b.output?.title ? { title: b.output.title } : {}),
          ...(b.status ? { status: b.status } : {}),
          ...(b.conclusion ? { conclusion: b.conclusion } : {}),
        });
        return json(200, { id: run.id });
      }
      unanswered.push(`${req.method} ${path}`);
      json(404, { message: "Not Found" });
    })().catch((err: unknown) => {
      unanswered.push(`error ${(err as Error).message}`);
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    repositories,
    statuses,
    checkRuns,
    unanswered,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Whether a check run ended (completed with a conclusion). */
export function completed(run: RecordedCheckRun): boolean {
  return run.updates.some((u) => u.status === "completed" || u.conclusion !== undefined);
}
