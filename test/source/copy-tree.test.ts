// Include copies: nothing read from or written to outside either artifact, whatever symlinks either holds.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { copyTreeContained } from "../../src/source/copy-tree.js";

const temp = (prefix: string) => mkdtempSync(join(tmpdir(), `gitops-bot-${prefix}-`));

function fixture() {
  const outside = temp("canary");
  writeFileSync(join(outside, "canary.txt"), "canary\n");
  const from = temp("included");
  mkdirSync(join(from, "manifests"));
  writeFileSync(join(from, "manifests/cm.yaml"), "kind: ConfigMap\n");
  const to = temp("base");
  return {
    outside,
    from,
    to,
    untouched: () =>
      readdirSync(outside).join(",") === "canary.txt" &&
      readFileSync(join(outside, "canary.txt"), "utf8") === "canary\n",
  };
}

describe("copyTreeContained", () => {
  it("copies files, directories and inside symlinks to toPath", () => {
    const f = fixture();
    symlinkSync("cm.yaml", join(f.from, "manifests/link.yaml"));
    copyTreeContained({
      from: join(f.from, "manifests"),
      fromRoot: f.from,
      toPath: "./common/shared",
      toRoot: f.to,
      field: "spec.include[0]",
    });
    expect(readFileSync(join(f.to, "common/shared/cm.yaml"), "utf8")).toBe("kind: ConfigMap\n");
    expect(readlinkSync(join(f.to, "common/shared/link.yaml"))).toBe("cm.yaml");
  });

  it("refuses a toPath through a symlink of the destination that leads out (evil -> ../../..)", () => {
    const f = fixture();
    symlinkSync(relative(f.to, f.outside), join(f.to, "evil"));
    expect(() =>
      copyTreeContained({
        from: join(f.from, "manifests"),
        fromRoot: f.from,
        toPath: "evil/x",
        toRoot: f.to,
        field: "spec.include[0]",
      }),
    ).toThrow('spec.include[0].toPath "evil/x" leads outside the artifact through the symlink evil; refused');
    expect(f.untouched()).toBe(true);
  });

  it("refuses to merge into a destination directory that is a symlink out", () => {
    const f = fixture();
    mkdirSync(join(f.to, "common"));
    // The included tree has a directory where the base has a link out: the copy must not descend into it.
    symlinkSync(f.outside, join(f.to, "common/manifests"));
    expect(() =>
      copyTreeContained({
        from: f.from,
        fromRoot: f.from,
        toPath: "common",
        toRoot: f.to,
        field: "spec.include[1]",
      }),
    ).toThrow(
      /spec.include\[1\].toPath "common" leads outside the artifact through the symlink common\/manifests/,
    );
    expect(f.untouched()).toBe(true);
  });

  it("replaces a destination file symlink with the file instead of writing through it", () => {
    const f = fixture();
    mkdirSync(join(f.to, "common"));
    symlinkSync(join(f.outside, "canary.txt"), join(f.to, "common/cm.yaml"));
    copyTreeContained({
      from: join(f.from, "manifests"),
      fromRoot: f.from,
      toPath: "common",
      toRoot: f.to,
      field: "spec.include[0]",
    });
    expect(lstatSync(join(f.to, "common/cm.yaml")).isSymbolicLink()).toBe(false);
    expect(f.untouched()).toBe(true);
  });

  it("refuses an included symlink that would lead out of the destination, and a fromPath out", () => {
    const f = fixture();
    symlinkSync("../../../../../../../../etc", join(f.from, "manifests/etc"));
    expect(() =>
      copyTreeContained({
        from: join(f.from, "manifests"),
        fromRoot: f.from,
        toPath: "common",
        toRoot: f.to,
        field: "spec.include[0]",
      }),
    ).toThrow(
      "spec.include[0].fromPath: symlink common/etc -> ../../../../../../../../etc would lead outside",
    );
    symlinkSync(f.outside, join(f.from, "out"));
    expect(() =>
      copyTreeContained({
        from: join(f.from, "out"),
        fromRoot: f.from,
        toPath: "x",
        toRoot: f.to,
        field: "spec.include[0]",
      }),
    ).toThrow("spec.include[0].fromPath: leads outside the included repository through a symlink; refused");
    expect(() =>
      copyTreeContained({
        from: join(f.from, "manifests"),
        fromRoot: f.from,
        toPath: "../x",
        toRoot: f.to,
        field: "spec.include[0]",
      }),
    ).toThrow('spec.include[0].toPath "../x" must not contain ".."');
    expect(existsSync(join(f.to, "x"))).toBe(false);
    expect(f.untouched()).toBe(true);
  });
});
