// Extracting GitHub's repository tarballs: streamed, capped at a size limit, corrupt input refused.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { extractTarball } from "../../src/github/fetch-tree.js";
import { tarGzOf } from "../source/tar-fixture.js";

function tarball(files: Record<string, string>, prefix = "acme-repo-abc1234"): Buffer {
  const root = mkdtempSync(join(tmpdir(), "gitops-bot-tar-src-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, prefix, path, ".."), { recursive: true });
    writeFileSync(join(root, prefix, path), content);
  }
  return execFileSync("tar", ["-czf", "-", "-C", root, prefix]);
}

const stream = (bytes: Buffer, chunk = 1024) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += chunk) controller.enqueue(bytes.subarray(i, i + chunk));
      controller.close();
    },
  });

describe("extractTarball", () => {
  it("unpacks GitHub's one top-level directory into the target, from a stream", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gitops-bot-tar-"));
    await extractTarball(stream(tarball({ "clusters/dev/a.yaml": "a: 1\n", "README.md": "hi" })), dir);
    expect(readFileSync(join(dir, "clusters/dev/a.yaml"), "utf8")).toBe("a: 1\n");
    expect(existsSync(join(dir, "README.md"))).toBe(true);
  });

  it("stops at the size limit with a message naming the repository", async () => {
    const big = tarball({
      "blob.bin": execFileSync("head", ["-c", "200000", "/dev/urandom"]).toString("latin1"),
    });
    const dir = mkdtempSync(join(tmpdir(), "gitops-bot-tar-"));
    await expect(
      extractTarball(stream(big), dir, { what: "acme/repo@abc1234", maxBytes: 50_000 }),
    ).rejects.toThrow("acme/repo@abc1234 is over the 50000 bytes limit");
  });

  it("refuses a corrupt tarball", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gitops-bot-tar-"));
    await expect(extractTarball(Buffer.from("not a tarball"), dir)).rejects.toThrow(
      /cannot extract the repository tarball/,
    );
  });

  it("refuses members outside the tree and leaves out symlinks that lead out, touching nothing outside", async () => {
    const outside = mkdtempSync(join(tmpdir(), "gitops-bot-canary-"));
    writeFileSync(join(outside, "canary.txt"), "canary\n");
    const dir = mkdtempSync(join(tmpdir(), "gitops-bot-tar-"));
    await expect(
      extractTarball(
        stream(tarGzOf([{ path: `acme-repo-abc/../../${outside}/canary.txt`, content: "owned" }])),
        dir,
        { what: "acme/repo@abc1234" },
      ),
    ).rejects.toThrow(
      /cannot extract the repository tarball: acme\/repo@abc1234: member ".*" contains ".."; refused/,
    );
    await extractTarball(
      stream(
        tarGzOf([
          { path: "acme-repo-abc/a.yaml", content: "a: 1\n" },
          { type: "symlink", path: "acme-repo-abc/evil", target: outside },
        ]),
      ),
      dir,
      { what: "acme/repo@abc1234" },
    );
    expect(existsSync(join(dir, "evil"))).toBe(false);
    await expect(
      extractTarball(
        stream(tarGzOf([{ path: "acme-repo-abc/f.bin", content: Buffer.alloc(4 * 1024 * 1024) }])),
        mkdtempSync(join(tmpdir(), "gitops-bot-tar-")),
        { what: "acme/repo@abc1234", limits: { maxUnpackedBytes: 1024 * 1024 } },
      ),
    ).rejects.toThrow("acme/repo@abc1234: unpacks to more than 1048576 bytes; refused");
    expect(readFileSync(join(outside, "canary.txt"), "utf8")).toBe("canary\n");
  });
});
