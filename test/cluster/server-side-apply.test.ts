import { PatchStrategy } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { createNamespace, testObjectApi } from "../support/kube.js";

describe("the harness API server", () => {
  it("server-side applies a ConfigMap with field manager gitops-bot and reads it back", async () => {
    const api = testObjectApi();
    const namespace = await createNamespace(api, "ssa");
    const cm = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace },
      data: { color: "blue" },
    };
    await api.patch(cm, undefined, undefined, "gitops-bot", true, PatchStrategy.ServerSideApply);
    const live = (await api.read(cm)) as typeof cm & {
      metadata: { managedFields?: { manager: string; operation: string }[] };
    };
    expect(live.data).toEqual({ color: "blue" });
    expect(live.metadata.managedFields?.map((f) => [f.manager, f.operation])).toContainEqual([
      "gitops-bot",
      "Apply",
    ]);
  });

  it("enforces RBAC: an unknown service account may not list secrets", async () => {
    const api = testObjectApi();
    const namespace = await createNamespace(api, "rbac");
    const review = (await api.create({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      metadata: {},
      spec: {
        user: `system:serviceaccount:${namespace}:nobody`,
        resourceAttributes: { namespace, verb: "list", resource: "secrets" },
      },
    } as never)) as { status?: { allowed?: boolean } };
    expect(review.status?.allowed).toBe(false);
  });
});
