// The archive extractor against ordinary archives (made by the real tar) and hostile ones (made by hand):
// nothing lands outside the target, sizes and member counts are bounded while streaming.
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { extractTarGz, readFileFromTarGz } from "../../src/source/tar-extract.js";
import { tarGzOf } from "./tar-fixture.js";

const temp = (prefix: string) => mkdtempSync(join(tmpdir(), `gitops-bot-${prefix}-`));

/** A directory outside every target, with one file that must never change. */
function canary(): { dir: string; file: string; untouched(): boolean } {
  const dir = temp("canary");
  const file = join(dir, "canary.txt");
  writeFileSync(file, "canary\n");
  return {
    dir,
    file,
    untouched: () => readFileSync(file, "utf8") === "canary\n" && readdirSync(dir).length === 1,
  };
}

describe("extractTarGz", () => {
  it("unpacks an archive made by the real tar: files, directories, modes, inside symlinks, hard links", async () => {
    const src = temp("tar-src");
    mkdirSync(join(src, "app/templates"), { recursive: true });
    writeFileSync(join(src, "app/Chart.yaml"), "name: app\nversion: 1.0.0\n");
    writeFileSync(join(src, "app/run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    symlinkSync("../Chart.yaml", join(src, "app/templates/chart-link"));
    execFileSync("ln", [join(src, "app/Chart.yaml"), join(src, "app/hard.yaml")]);
    const archive = execFileSync("tar", ["-czf", "-", "-C", src, "app"]);
    const dir = join(temp("tar-out"), "x");
    const summary = await extractTarGz(archive, dir, { what: "test archive" });
    expect(readFileSync(join(dir, "app/Chart.yaml"), "utf8")).toContain("name: app");
    expect(readFileSync(join(dir, "app/hard.yaml"), "utf8")).toContain("name: app");
    expect(statSync(join(dir, "app/run.sh")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dir, "app/templates/chart-link"))).toBe("../Chart.yaml");
    expect(summary.files).toBe(3);
    expect(summary.skipped).toEqual([]);
  });

  it("strips leading components and long (pax) names", async () => {
    const long = `${"d".repeat(80)}/${"f".repeat(80)}.yaml`;
    const dir = temp("tar-out");
    await extractTarGz(
      tarGzOf([
        { type: "directory", path: "acme-repo-abc/" },
        { path: "acme-repo-abc/a.yaml", content: "a: 1\n" },
        { path: `acme-repo-abc/${long}`, content: "long\n" },
      ]),
      dir,
      { what: "acme/repo@abc", stripComponents: 1 },
    );
    expect(readFileSync(join(dir, "a.yaml"), "utf8")).toBe("a: 1\n");
    expect(readFileSync(join(dir, long), "utf8")).toBe("long\n");
  });

  it.each([
    [
      "an absolute member",
      [{ path: "/tmp/evil.txt", content: "x" }],
      'member "/tmp/evil.txt" has an absolute path',
    ],
    ["a .. member", [{ path: "a/../../evil.txt", content: "x" }], 'member "a/../../evil.txt" contains ".."'],
    [
      "a symlink out",
      [{ type: "symlink" as const, path: "evil", target: "../../../.." }],
      'symlink "evil" -> "../../../.." leads outside the archive',
    ],
    [
      "an absolute symlink",
      [{ type: "symlink" as const, path: "etc", target: "/etc" }],
      'symlink "etc" -> "/etc" leads outside the archive',
    ],
    [
      "a hard link to a file outside",
      [{ type: "hardlink" as const, path: "passwd", target: "/etc/passwd" }],
      'member "/etc/passwd" has an absolute path',
    ],
    [
      "a hard link to a name not in the archive",
      [{ type: "hardlink" as const, path: "x", target: "nowhere" }],
      'hard link "x" -> "nowhere" does not name an earlier file of the archive',
    ],
  ])("refuses %s", async (_what, members, message) => {
    const dir = temp("tar-out");
    await expect(extractTarGz(tarGzOf(members), dir, { what: "OCI layer sha256:abc" })).rejects.toThrow(
      `OCI layer sha256:abc: ${message}; refused`,
    );
  });

  it("never writes through a symlink, even one pointing inside that is replaced later", async () => {
    const outside = canary();
    const dir = temp("tar-out");
    // Even a symlink that points inside is never a way in: what it points at could change.
    await expect(
      extractTarGz(
        tarGzOf([
          { type: "directory", path: "inner/" },
          { type: "symlink", path: "link", target: "inner" },
          { path: "link/file.txt", content: "through the link" },
        ]),
        dir,
        { what: "layer" },
      ),
    ).rejects.toThrow(
      'layer: member "link/file.txt" would be written through "link", which is a symlink; refused',
    );
    expect(existsSync(join(dir, "inner/file.txt"))).toBe(false);
    await expect(
      extractTarGz(
        tarGzOf([
          { type: "symlink", path: "x", target: outside.dir },
          { path: "x/canary.txt", content: "owned" },
        ]),
        temp("tar-out"),
        { what: "layer" },
      ),
    ).rejects.toThrow("leads outside the archive");
    expect(outside.untouched()).toBe(true);
  });

  it("replaces an earlier symlink by a later file without following it", async () => {
    const dir = temp("tar-out");
    await extractTarGz(
      tarGzOf([
        { path: "target.txt", content: "original" },
        { type: "symlink", path: "file.txt", target: "target.txt" },
        { path: "file.txt", content: "replacement" },
      ]),
      dir,
      { what: "layer" },
    );
    expect(readFileSync(join(dir, "target.txt"), "utf8")).toBe("original");
    expect(lstatSync(join(dir, "file.txt")).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dir, "file.txt"), "utf8")).toBe("replacement");
  });

  it("leaves out escaping symlinks and devices when asked to (repository trees)", async () => {
    const dir = temp("tar-out");
    const summary = await extractTarGz(
      tarGzOf([
        { path: "a.yaml", content: "a\n" },
        { type: "symlink", path: "venv-python", target: "/usr/bin/python3" },
        { type: "fifo", path: "pipe" },
      ]),
      dir,
      { what: "repo", escapingSymlinks: "skip" },
    );
    expect(summary.skipped).toEqual(["venv-python", "pipe"]);
    expect(readdirSync(dir)).toEqual(["a.yaml"]);
  });

  it("stops at the unpacked size bound while streaming (a gzip bomb)", async () => {
    const bomb = tarGzOf([{ path: "zeros.bin", content: Buffer.alloc(20 * 1024 * 1024) }]);
    expect(bomb.length).toBeLessThan(100 * 1024);
    const dir = temp("tar-out");
    await expect(
      extractTarGz(bomb, dir, { what: "chart archive", limits: { maxUnpackedBytes: 1024 * 1024 } }),
    ).rejects.toThrow("chart archive: unpacks to more than 1048576 bytes; refused");
    expect(statSync(join(dir, "zeros.bin")).size).toBeLessThanOrEqual(1024 * 1024);
  });

  it("stops at the compressed size bound and the member count", async () => {
    const many = tarGzOf(Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, content: "x" })));
    await expect(
      extractTarGz(many, temp("tar-out"), { what: "layer", limits: { maxEntries: 10 } }),
    ).rejects.toThrow("layer: more than 10 members; refused");
    const random = gzipSync(execFileSync("head", ["-c", "100000", "/dev/urandom"]));
    let pulled = 0;
    const endless = (async function* () {
      for (;;) {
        pulled += 1;
        yield random.subarray(0, 4096);
      }
    })();
    await expect(
      extractTarGz(endless, temp("tar-out"), { what: "layer", limits: { maxCompressedBytes: 40_000 } }),
    ).rejects.toThrow(/layer: (larger than the 40000-byte limit|.*header checksum mismatch)/);
    expect(pulled).toBeLessThan(20);
  });

  it("refuses what is not a gzipped tarball, and a truncated one", async () => {
    await expect(extractTarGz(Buffer.from("not a tarball"), temp("tar-out"), { what: "x" })).rejects.toThrow(
      "x is not a gzip-compressed tar archive",
    );
    await expect(
      extractTarGz(gzipSync(Buffer.alloc(512, 1)), temp("tar-out"), { what: "x" }),
    ).rejects.toThrow("x: not a tar archive");
    const full = tarGzOf([{ path: "big", content: Buffer.alloc(4096, 7) }]);
    const truncated = gzipSync(execFileSync("gzip", ["-dc"], { input: full }).subarray(0, 1024));
    await expect(extractTarGz(truncated, temp("tar-out"), { what: "x" })).rejects.toThrow(
      "x: the archive is truncated",
    );
  });
});

describe("readFileFromTarGz", () => {
  it("reads one member by its checked name", async () => {
    const archive = tarGzOf([
      { path: "app/templates/a.yaml", content: "a" },
      { path: "app/Chart.yaml", content: "name: app\n" },
    ]);
    const chart = (p: string) => /^[^/]+\/Chart\.yaml$/.test(p);
    expect(await readFileFromTarGz(archive, chart, { what: "chart" })).toBe("name: app\n");
    expect(await readFileFromTarGz(archive, (p) => p === "missing", { what: "chart" })).toBeUndefined();
    await expect(
      readFileFromTarGz(tarGzOf([{ path: "../Chart.yaml", content: "x" }]), chart, { what: "chart" }),
    ).rejects.toThrow('chart: member "../Chart.yaml" contains ".."; refused');
  });
});
