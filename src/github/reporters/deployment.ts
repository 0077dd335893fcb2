// A GitHub deployment per run of a cluster bound to an environment: created when the run starts, in progress,
// then success or failure (error when the run stopped; inactive when a newer commit superseded it).

import { runSucceeded } from "../../reconcile/result.js";
import { fullName } from "../client.js";
import { createDeployment, setDeploymentState } from "../views/deployment.js";
import { runLine } from "../views/summary-line.js";
import { stoppedState } from "./commit-status.js";
import { priorities } from "./planned-writes.js";
import type { ReporterContext, ReporterFactory, StreamEvent } from "./types.js";

export const deploymentReporter: ReporterFactory = ({ target, plan }: ReporterContext) => {
  if (target.kind !== "push" || !target.environments || Object.keys(target.environments).length === 0) {
    return undefined;
  }
  const ids = new Map<string, number | undefined>();
  const state = (
    cluster: string,
    phase: "start" | "end",
    value: "in_progress" | "success" | "failure" | "error" | "inactive",
    description: string,
  ) =>
    plan.want({
      key: `deployment ${fullName(target.repo)}@${target.sha} ${cluster} ${phase}`,
      priority: priorities.summary,
      fingerprint: `${value} ${description}`,
      what: `deployment state of ${cluster}`,
      send: async () => {
        const id = ids.get(cluster);
        if (id !== undefined) await setDeploymentState(target.github, target.repo, id, value, description);
      },
    });
  return {
    on: ({ cluster, event }: StreamEvent) => {
      const environment = target.environments?.[cluster];
      if (!environment) return;
      switch (event.type) {
        case "run-started":
          plan.want({
            key: `deployment ${fullName(target.repo)}@${target.sha} ${cluster} create`,
            priority: priorities.summary,
            fingerprint: environment,
            what: `deployment of ${cluster} to ${environment}`,
            send: async () => {
              ids.set(
                cluster,
                await createDeployment(target.github, target.repo, target.sha, environment, cluster),
              );
            },
          });
          state(cluster, "start", "in_progress", "reconciling");
          return;
        case "run-finished": {
          const run = event.result;
          state(cluster, "end", runSucceeded(run) ? "success" : "failure", runLine(run));
          return;
        }
        case "run-stopped":
          // Superseded (a newer commit is deployed instead): the deployment is inactive, not an error.
          state(cluster, "end", stoppedState(event) === "success" ? "inactive" : "error", event.message);
          return;
      }
    },
  };
};
