// The shared command-line parser: flux's (pflag's) habits, and one-line messages for each mistake.
import { describe, expect, test } from "vitest";
import { parseCommandLine } from "../../src/cli/args.js";
import { UsageError } from "../../src/cli/io.js";

const flags = {
  prune: { type: "boolean" },
  wait: { type: "boolean" },
  path: { type: "string" },
  kubeconfig: { type: "string" },
  output: { type: "string", short: "o" },
  "health-check": { type: "string", multiple: true },
} as const;

describe("parseCommandLine", () => {
  test.each([
    [["--prune"], { prune: true }],
    [["--prune=true"], { prune: true }],
    [["--prune=false"], { prune: false }],
    [["--prune=FALSE"], { prune: false }],
    [["--no-wait"], { wait: false }],
    [["--wait=false", "--wait"], { wait: true }],
    [["--path", "./apps"], { path: "./apps" }],
    [["--path=./apps"], { path: "./apps" }],
    [["--path=a=b"], { path: "a=b" }],
    [["-o", "json"], { output: "json" }],
    [["-o=json"], { output: "json" }],
    [
      ["--health-check", "Deployment/a.b", "--health-check=HelmRelease/c"],
      { "health-check": ["Deployment/a.b", "HelmRelease/c"] },
    ],
    [["--path", "-"], { path: "-" }],
  ])("%j reads as %j", (args, values) => {
    expect(parseCommandLine(args, flags).values).toEqual(values);
  });

  test("positionals around flags, and everything after --", () => {
    expect(parseCommandLine(["a", "--prune", "b", "--", "--path", "c"], flags)).toEqual({
      values: { prune: true },
      positionals: ["a", "b", "--path", "c"],
    });
  });

  test.each([
    [["--prun"], "unknown flag --prun (did you mean --prune?)"],
    [["--kubeconfg", "x"], "unknown flag --kubeconfg (did you mean --kubeconfig?)"],
    [["--frobnicate"], "unknown flag --frobnicate"],
    [["-x"], "unknown flag -x"],
    [["--prune=yes"], '--prune is true or false, not "yes" (as in --prune=false)'],
    [["--no-prune=true"], "--no-prune takes no value; write --prune=false"],
    [["--path"], "--path needs a value"],
    [["--path", "--prune"], "--path needs a value"],
    [["--no-path"], "unknown flag --no-path"],
  ])("%j is refused: %s", (args, message) => {
    let thrown: unknown;
    try {
      parseCommandLine(args, flags);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toBe(message);
  });
});
