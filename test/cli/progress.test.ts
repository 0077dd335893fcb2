// The status line while health checks wait: what it says, how often, and in place on a terminal. The polls come
// from waitForHealthy's onPoll against the real API server.
import { describe, expect, test } from "vitest";
import { ProgressReporter, shortDuration, waitingLine } from "../../src/cli/progress.js";
import { noStyle } from "../../src/cli/style.js";
import { type WaitProgress, waitForHealthy } from "../../src/cluster/ssa/wait.js";
import { createNamespace, testObjectApi } from "../support/kube.js";

describe("health wait progress", () => {
  test.each([
    [0, "0s"],
    [400, "0s"],
    [40_000, "40s"],
    [80_000, "1m20s"],
    [300_000, "5m"],
    [3_720_000, "1h2m"],
  ])("%i ms reads %s", (ms, text) => {
    expect(shortDuration(ms)).toBe(text);
  });

  test("names the first object still waiting, its state, the time waited and the timeout", () => {
    const poll: WaitProgress = {
      elapsedMs: 40_000,
      timeoutMs: 300_000,
      total: 3,
      unhealthy: [
        { subject: "Deployment/apps/web", status: "InProgress", message: "Available: 0/1" },
        { subject: "StatefulSet/apps/db", status: "InProgress", message: "Ready: 0/1" },
      ],
    };
    const now = 1_000_000;
    expect(waitingLine("flux-system/apps", { since: now - 40_000, objects: 3, poll }, now)).toBe(
      "waiting 40s/5m: Deployment/apps/web 0/1 available (+1 more)",
    );
    expect(waitingLine("flux-system/apps", { since: now - 12_000, objects: 3 }, now)).toBe(
      "waiting 12s: Kustomization flux-system/apps, 3 object(s)",
    );
  });

  test("on a terminal the status line is redrawn in place and cleared before the next step", () => {
    let text = "";
    let clock = 0;
    const reporter = new ProgressReporter((t) => (text += t), {
      tty: true,
      style: noStyle,
      tickMs: 60_000,
      now: () => clock,
    });
    reporter.handle({ type: "waiting", kustomization: "flux-system/apps", objects: 1 });
    clock = 2_000;
    reporter.tick();
    clock = 3_000;
    reporter.tick();
    reporter.handle({ type: "finished", kustomization: "flux-system/apps", status: "Ready" });
    reporter.close();
    expect(text).toBe(
      "◎ flux-system/apps: waiting for 1 object(s) to become healthy\n" +
        "\r\u001b[Kwaiting 2s: Kustomization flux-system/apps, 1 object(s)" +
        "\r\u001b[Kwaiting 3s: Kustomization flux-system/apps, 1 object(s)" +
        "\r\u001b[K✔ flux-system/apps: Ready\n",
    );
  });

  test("a wait on the real API server reports each poll: the object, its state, elapsed and timeout", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "progress");
    let text = "";
    let clock = 0;
    const reporter = new ProgressReporter((t) => (text += t), {
      tty: false,
      style: noStyle,
      tickMs: 60_000,
      now: () => clock,
    });
    reporter.handle({ type: "waiting", kustomization: `${ns}/apps`, objects: 1 });
    const polls: WaitProgress[] = [];
    const result = await waitForHealthy(
      api,
      [{ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: ns } }],
      {
        timeoutMs: 1_500,
        intervalMs: 300,
        onPoll: (progress) => {
          polls.push(progress);
          clock = progress.elapsedMs;
          reporter.handle({ type: "health", kustomization: `${ns}/apps`, progress });
          reporter.tick();
        },
      },
    );
    reporter.close();
    expect(result.healthy).toBe(false);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    const lines = text.split("\n").filter((l) => l.startsWith("waiting "));
    expect(lines.length).toBe(polls.length);
    for (const line of lines) {
      expect(line).toMatch(new RegExp(`^waiting \\d+s/2s: Deployment/${ns}/web object not found$`));
    }
  });
});
