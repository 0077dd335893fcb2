// Attacks on the person at the terminal: repository content that carries terminal control sequences (retitle
// the window, clear the screen, hide or reorder text) must reach the CLI's output only as visible escapes, on a
// TTY with colour as well as piped; the CLI's own colour codes are the only escape sequences it writes.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";

const HOSTILE = "\u001b]0;pwned\u0007\u001b[2J\u001b[8mhidden\u202eevil";
/** The escape sequences the CLI itself writes: its colours, and the status line's redraw. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what this test is about.
const OWN_SEQUENCES = /\u001b\[(?:32|31|33|39|2|22|1)m|\r\u001b\[K/g;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: { write: (s: string) => (out += s), isTTY: true },
    err: { write: (s: string) => (err += s), isTTY: true },
    env: { FORCE_COLOR: "1" },
  });
  return { code, out, err };
}

function assertInert(text: string): void {
  const rest = text.replace(OWN_SEQUENCES, "");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what this test is about.
  expect(rest).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
}

describe("terminal control sequences from a repository", () => {
  it("a kustomization resource named with escape sequences: build's error shows them escaped", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ${JSON.stringify(`${HOSTILE}.yaml`)}\n`,
    });
    const { code, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(code).toBe(2);
    assertInert(err);
    expect(err).toContain("\\x1b]0;pwned\\x07\\x1b[2J\\x1b[8mhidden\\u202eevil.yaml");
  });

  it("a ConfigMap whose data carries escape sequences: diff on a colour TTY prints only the CLI's own", async () => {
    const ns = await createNamespace(testObjectApi(), "ansi");
    const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: banner\ndata:\n  motd: ${JSON.stringify(HOSTILE)}\n`;
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/cm.yaml": cm,
    });
    const common = ["clusters/dev", "--repo", repo, "--kubeconfig", inject("kubeconfigPath")];
    const scope = ["--scope", uniqueName("ansi")];
    expect((await cli(["reconcile", ...common, ...scope, "-q"])).code).toBe(0);
    writeFileSync(join(repo, "apps/cm.yaml"), cm.replace("hidden", "shown"));
    const { code, out, err } = await cli(["diff", ...common, ...scope]);
    expect(code).toBe(1);
    expect(out).toContain("\u001b[33m~ configured\u001b[39m");
    assertInert(out);
    assertInert(err);
  });
});
