// A simulated GitHub for tests of the server as its own process (nock only works inside the test's process):
// a loopback HTTP server under /api/v3 (the bot is pointed at it as a GitHub Enterprise Server) that keeps the
// state a test asserts on — check runs, commit statuses — and serves one repository: its .github/gitops.yaml,
// its branch head, its recent commits and their tarballs. A tarball can be held back, so a test knows the run
// is in progress when it faults the bot. Requests it does not know are answered 404 and recorded.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeCheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: string;
  conclusion: string | null;
  external_id?: string;
  output?: { title?: string; summary?: string };
  app: { id: number };
  /** Every write to it, in order: "queued", "in_progress", "completed:success". */
  history: string[];
}

export interface FakeStatus {
  sha: string;
  context: string;
  state: string;
  description: string;
  at: number;
}

export interface FakeGitHub {
  /** The API root, for GHE_HOST/GHE_PROTOCOL: `http://127.0.0.1:<port>/api/v3`. */
  apiUrl: string;
  /** `127.0.0.1:<port>`. */
  host: string;
  checkRuns: FakeCheckRun[];
  statuses: FakeStatus[];
  unknown: string[];
  /** The branch now points at `sha`, whose tarball is `tarball`. */
  push(sha: string, tarball: Buffer): void;
  /** Holds the tarball of `sha` until released; `requested` resolves when the bot asks for it. */
  holdTarball(sha: string): { requested: Promise<void>; release(): void };
  /** The last status per context on `sha`. */
  finalStatuses(sha: string): Record<string, { state: string; description: string }>;
  close(): Promise<void>;
}

export const FAKE_APP_ID = 1;

export async function startFakeGitHub(repo: {
  owner: string;
  name: string;
  installationId: number;
  defaultBranch: string;
  config: string;
}): Promise<FakeGitHub> {
  const checkRuns: FakeCheckRun[] = [];
  const statuses: FakeStatus[] = [];
  const unknown: string[] = [];
  const commits: string[] = [];
  const tarballs = new Map<string, Buffer>();
  const holds = new Map<string, { requested: () => void; released: Promise<void> }>();
  const base = `/api/v3/repos/${repo.owner}/${repo.name}`;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const repository = {
    id: 1,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    owner: { login: repo.owner },
    default_branch: repo.defaultBranch,
    archived: false,
    disabled: false,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const path = decodeURIComponent(url.pathname);
    const method = req.method ?? "GET";
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length
      ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>)
      : {};
    const at = (pattern: string) => new RegExp(pattern).exec(path);

    if (method === "POST" && /^\/api\/v3\/app\/installations\/\d+\/access_tokens$/.test(path)) {
      return json(res, 201, {
        token: "ghs_fake",
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        permissions: {},
        repository_selection: "all",
      });
    }
    if (method === "GET" && path === "/api/v3/app") {
      return json(res, 200, {
        id: FAKE_APP_ID,
        slug: "gitops-bot",
        name: "gitops-bot",
        owner: { login: repo.owner },
      });
    }
    if (method === "GET" && path === "/api/v3/app/installations") {
      return json(res, 200, [{ id: repo.installationId, account: { login: repo.owner } }]);
    }
    if (method === "GET" && path === "/api/v3/installation/repositories") {
      return json(res, 200, { total_count: 1, repositories: [repository] });
    }
    if (method === "GET" && path === `${base}/contents/.github/gitops.yaml`) {
      return json(res, 200, {
        type: "file",
        encoding: "base64",
        name: "gitops.yaml",
        path: ".github/gitops.yaml",
        size: repo.config.length,
        content: Buffer.from(repo.config).toString("base64"),
        sha: "0".repeat(40),
      });
    }
    if (method === "GET" && path === `${base}/git/ref/heads/${repo.defaultBranch}`) {
      const head = commits[0];
      if (!head) return json(res, 404, { message: "Not Found" });
      return json(res, 200, {
        ref: `refs/heads/${repo.defaultBranch}`,
        object: { sha: head, type: "commit" },
      });
    }
    if (method === "GET" && path === `${base}/commits`) {
      const from = commits.indexOf(url.searchParams.get("sha") ?? "");
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      return json(
        res,
        200,
        commits.slice(Math.max(0, from), Math.max(0, from) + perPage).map((sha) => ({ sha })),
      );
    }
    const listChecks = method === "GET" ? at(`^${base}/commits/([0-9a-f]{40})/check-runs$`) : null;
    if (listChecks) {
      const sha = listChecks[1];
      const appId = url.searchParams.get("app_id");
      const latest = new Map<string, FakeCheckRun>();
      for (const run of checkRuns) {
        if (run.head_sha !== sha || (appId && String(run.app.id) !== appId)) continue;
        const known = latest.get(run.name);
        if (!known || known.id < run.id) latest.set(run.name, run);
      }
      const list =
        url.searchParams.get("filter") === "all"
          ? checkRuns.filter((r) => r.head_sha === sha)
          : [...latest.values()];
      return json(res, 200, { total_count: list.length, check_runs: list });
    }
    const combined = method === "GET" ? at(`^${base}/commits/([0-9a-f]{40})/status$`) : null;
    if (combined) {
      const final = fake.finalStatuses(combined[1] ?? "");
      const list = Object.entries(final).map(([context, s]) => ({ context, ...s }));
      return json(res, 200, { state: "pending", sha: combined[1], total_count: list.length, statuses: list });
    }
    const tarballAt = method === "GET" ? at(`^${base}/tarball/([0-9a-f]{40})$`) : null;
    if (tarballAt) {
      const sha = tarballAt[1] ?? "";
      const hold = holds.get(sha);
      if (hold) {
        hold.requested();
        await hold.released;
      }
      const tarball = tarballs.get(sha);
      if (!tarball) return json(res, 404, { message: "Not Found" });
      res.writeHead(200, { "content-type": "application/x-gzip" });
      res.end(tarball);
      return;
    }
    if (method === "POST" && path === `${base}/check-runs`) {
      const run: FakeCheckRun = {
        id: 1000 + checkRuns.length,
        name: String(body.name),
        head_sha: String(body.head_sha),
        status: String(body.status ?? "queued"),
        conclusion: (body.conclusion as string | undefined) ?? null,
        ...(body.external_id ? { external_id: String(body.external_id) } : {}),
        ...(body.output ? { output: body.output as FakeCheckRun["output"] } : {}),
        app: { id: FAKE_APP_ID },
        history: [],
      };
      run.history.push(run.conclusion ? `${run.status}:${run.conclusion}` : run.status);
      checkRuns.push(run);
      return json(res, 201, run);
    }
    const patchCheck = method === "PATCH" ? at(`^${base}/check-runs/(\\d+)$`) : null;
    if (patchCheck) {
      const run = checkRuns.find((r) => r.id === Number(patchCheck[1]));
      if (!run) return json(res, 404, { message: "Not Found" });
      if (body.status) run.status = String(body.status);
      if (body.conclusion) {
        run.conclusion = String(body.conclusion);
        run.status = "completed";
      }
      if (body.output) run.output = body.output as FakeCheckRun["output"];
      run.history.push(run.conclusion ? `${run.status}:${run.conclusion}` : run.status);
      return json(res, 200, run);
    }
    const postStatus = method === "POST" ? at(`^${base}/statuses/([0-9a-f]{40})$`) : null;
    if (postStatus) {
      statuses.push({
        sha: postStatus[1] ?? "",
        context: String(body.context),
        state: String(body.state),
        description: String(body.description ?? ""),
        at: performance.now(),
      });
      return json(res, 201, { id: statuses.length });
    }
    unknown.push(`${method} ${req.url}`);
    return json(res, 404, { message: "Not Found" });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      unknown.push(`${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) json(res, 500, { message: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeGitHub = {
    apiUrl: `http://127.0.0.1:${port}/api/v3`,
    host: `127.0.0.1:${port}`,
    checkRuns,
    statuses,
    unknown,
    push(sha, tarball) {
      commits.unshift(sha);
      tarballs.set(sha, tarball);
    },
    holdTarball(sha) {
      let requested: () => void = () => {};
      let release: () => void = () => {};
      const asked = new Promise<void>((resolve) => {
        requested = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.set(sha, { requested, released });
      return {
        requested: asked,
        release: () => {
          holds.delete(sha);
          release();
        },
      };
    },
    finalStatuses(sha) {
      const out: Record<string, { state: string; description: string }> = {};
      for (const s of statuses)
        if (s.sha === sha) out[s.context] = { state: s.state, description: s.description };
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const hold of holds.values()) hold.requested();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
