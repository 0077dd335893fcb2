import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitFiles, createGitRepo, runGit, startGitServer, tagRepo } from "./support/git-server.js";
import {
  listTags,
  pushImage,
  pushImageTags,
  type RunningRegistry,
  startRegistry,
} from "./support/registry.js";

const credentials = { user: "flux", password: "s3cret-p@ss" };

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

describe("test registry", () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it("stores an image pushed under two tags and lists both through the API", async () => {
    const first = await pushImage(registry.url, "team/app", "1.0.0");
    const second = await pushImage(registry.url, "team/app", "1.1.0");

    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(second).toBe(first);
    const listed = await listTags(registry.url, "team/app");
    expect(listed.name).toBe("team/app");
    expect([...listed.tags].sort()).toEqual(["1.0.0", "1.1.0"]);

    const manifest = await fetch(`${registry.url}/v2/team/app/manifests/1.1.0`, {
      headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get("content-type")).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.headers.get("docker-content-digest")).toBe(first);
    const body = (await manifest.json()) as { layers: { digest: string }[] };
    const layer = await fetch(`${registry.url}/v2/team/app/blobs/${body.layers[0]!.digest}`);
    expect(layer.status).toBe(200);
  });

  it("gives a distinct digest per tag when asked for annotations", async () => {
    const one = await pushImage(registry.url, "team/annotated", "a", { annotations: { tag: "a" } });
    const two = await pushImage(registry.url, "team/annotated", "b", { annotations: { tag: "b" } });
    expect(one).not.toBe(two);
  });

  it("pushes many tags of one repository and lists them all", async () => {
    const tags = Array.from({ length: 100 }, (_, i) => `0.0.${i}`);
    const digests = await pushImageTags(registry.url, "team/many", tags);
    expect(new Set(digests.values()).size).toBe(1);
    // distribution 2.8 ignores n/last on tags/list and answers in no particular order (3.x pages and
    // sorts), so only the set is compared here.
    const listed = await listTags(registry.url, "team/many");
    expect(listed.tags).toHaveLength(100);
    expect(new Set(listed.tags)).toEqual(new Set(tags));
  });

  it("reports the registry version", () => {
    expect(registry.version).toMatch(/^v?\d+\.\d+\.\d+/);
  });

  it("names the binary when it is missing", async () => {
    await expect(startRegistry({ binary: "/nonexistent/docker-registry" })).rejects.toThrow(
      /registry binary "\/nonexistent\/docker-registry" not found/,
    );
  });
});

describe("test registry in memory", () => {
  it("serves pushes and tag lists without a storage directory", async () => {
    const registry = await startRegistry({ storage: "inmemory" });
    try {
      const digest = await pushImage(registry.url, "memory/app", "2.0.0");
      expect((await listTags(registry.url, "memory/app")).tags).toEqual(["2.0.0"]);
      // distribution 2.8 answers 404 for an OCI manifest unless the client says it accepts one.
      const manifest = await fetch(`${registry.url}/v2/memory/app/manifests/${digest}`, {
        method: "HEAD",
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      expect(manifest.status).toBe(200);
    } finally {
      await registry.stop();
    }
  });
});

describe("test registry with htpasswd", () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: credentials });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it("refuses anonymous and wrong-password requests with a basic challenge", async () => {
    const anonymous = await fetch(`${registry.url}/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    const wrong = await fetch(`${registry.url}/v2/`, { headers: { authorization: basic("flux", "nope") } });
    expect(wrong.status).toBe(401);
    await expect(pushImage(registry.url, "private/app", "1.0.0")).rejects.toThrow(/401/);
  });

  it("accepts basic auth for the API, pushes and tag lists", async () => {
    const root = await fetch(`${registry.url}/v2/`, {
      headers: { authorization: basic(credentials.user, credentials.password) },
    });
    expect(root.status).toBe(200);
    await pushImage(registry.url, "private/app", "1.0.0", { auth: credentials });
    expect((await listTags(registry.url, "private/app", { auth: credentials })).tags).toEqual(["1.0.0"]);
  });
});

describe("test git server", () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "gitops-bot-git-test-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("serves a non-bare repository for clone and fetch over smart HTTP", async () => {
    const root = join(work, "served");
    const repo = await createGitRepo(join(root, "fleet"), {
      "README.md": "# fleet\n",
      "clusters/prod/app.yaml": "kind: ConfigMap\n",
    });
    const server = await startGitServer(root);
    try {
      const clone = join(work, "fleet-clone");
      await runGit(["clone", "--quiet", `${server.url}/fleet`, clone]);
      expect(await readFile(join(clone, "clusters/prod/app.yaml"), "utf8")).toBe("kind: ConfigMap\n");
      expect(await runGit(["rev-parse", "HEAD"], { cwd: clone })).toBe(repo.sha);
      expect(await runGit(["branch", "--show-current"], { cwd: clone })).toBe("main");

      const next = await commitFiles(
        repo.dir,
        { "README.md": null, "clusters/prod/app.yaml": "kind: Secret\n" },
        "Next",
      );
      await tagRepo(repo.dir, "v1.0.0", { message: "release" });
      await runGit(["pull", "--quiet", "--tags"], { cwd: clone });
      expect(await runGit(["rev-parse", "HEAD"], { cwd: clone })).toBe(next);
      expect(await runGit(["rev-parse", "v1.0.0^{commit}"], { cwd: clone })).toBe(next);
      await expect(readFile(join(clone, "README.md"))).rejects.toThrow(/ENOENT/);
    } finally {
      await server.stop();
    }
  });

  it("accepts gzip-encoded requests from the client", async () => {
    const root = join(work, "gzip");
    const repo = await createGitRepo(join(root, "many-tags"), { "a.txt": "a\n" });
    // Annotated tags are distinct objects, so each one is a "want" line: 40 of them push the request body
    // past the 1 KiB above which git gzips it.
    for (let i = 1; i <= 40; i++) await tagRepo(repo.dir, `v0.0.${i}`, { message: `release ${i}` });
    const server = await startGitServer(root);
    try {
      const clone = join(work, "many-tags-clone");
      const trace = join(work, "curl-trace.txt");
      await runGit(["clone", "--quiet", "--no-single-branch", `${server.url}/many-tags`, clone], {
        env: { GIT_TRACE_CURL: trace, GIT_TRACE_CURL_NO_DATA: "1" },
      });
      expect(await readFile(trace, "utf8")).toMatch(/Send header: Content-Encoding: gzip/i);
      expect((await runGit(["tag", "--list"], { cwd: clone })).split("\n")).toHaveLength(40);
    } finally {
      await server.stop();
    }
  });

  it("accepts pushes and updates the served working tree", async () => {
    const root = join(work, "push");
    const repo = await createGitRepo(join(root, "apps"), { "image.yaml": "image: app:1.0.0\n" });
    const server = await startGitServer(root);
    try {
      const clone = join(work, "apps-clone");
      await runGit(["clone", "--quiet", `${server.url}/apps`, clone]);
      const pushed = await commitFiles(clone, { "image.yaml": "image: app:1.1.0\n" }, "Update image");
      await runGit(["push", "--quiet", "origin", "main"], { cwd: clone });
      expect(await runGit(["rev-parse", "HEAD"], { cwd: repo.dir })).toBe(pushed);
      expect(await readFile(join(repo.dir, "image.yaml"), "utf8")).toBe("image: app:1.1.0\n");
    } finally {
      await server.stop();
    }
  });

  it("with basic auth, refuses a clone without or with wrong credentials and allows one with them", async () => {
    const root = join(work, "private");
    const repo = await createGitRepo(join(root, "secret-fleet"), { "kustomization.yaml": "resources: []\n" });
    const server = await startGitServer(root, { auth: credentials });
    try {
      const anonymous = await fetch(`${server.url}/secret-fleet/info/refs?service=git-upload-pack`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic /);

      await expect(
        runGit(["clone", "--quiet", `${server.url}/secret-fleet`, join(work, "no-creds")]),
      ).rejects.toThrow(/Authentication failed|could not read Username/);
      const wrongUrl = new URL(`${server.url}/secret-fleet`);
      wrongUrl.username = credentials.user;
      wrongUrl.password = `${credentials.password.slice(0, -1)}X`; // same length: the comparison must look at bytes
      await expect(runGit(["clone", "--quiet", wrongUrl.href, join(work, "wrong-creds")])).rejects.toThrow(
        /Authentication failed/,
      );

      const url = new URL(`${server.url}/secret-fleet`);
      url.username = credentials.user;
      url.password = credentials.password; // URL percent-encodes the "@" in the password
      const clone = join(work, "with-creds");
      await runGit(["clone", "--quiet", url.href, clone]);
      expect(await runGit(["rev-parse", "HEAD"], { cwd: clone })).toBe(repo.sha);
    } finally {
      await server.stop();
    }
  });

  it("refuses file names that leave the repository", async () => {
    const repo = await createGitRepo(join(work, "guarded"), { "a.txt": "a\n" });
    await expect(commitFiles(repo.dir, { "../escape.txt": "x" }, "escape")).rejects.toThrow(
      /not a path inside/,
    );
    await expect(commitFiles(repo.dir, { ".git/config": "x" }, "escape")).rejects.toThrow(
      /not a path inside/,
    );
  });
});
