// The kustomize and helm binaries the engine runs, found the way the engine finds them, and their versions.
import { kustomizeBinary } from "../build/kustomize.js";
import { helmBinary } from "../helm/helm-cli.js";
import { runTool, ToolError } from "../util/child-process.js";

export interface ToolCheck {
  tool: "kustomize" | "helm";
  binary: string;
  ok: boolean;
  version?: string;
  /** Why it is not usable. */
  error?: string;
}

/** The major versions the engine is written for. */
const SUPPORTED: Record<ToolCheck["tool"], number[]> = { kustomize: [5], helm: [3, 4] };

/** `v5.8.1` from `v5.8.1`, `{Version:kustomize/v5.8.1 …}`, `v4.3.1+gabc`. */
export function parseToolVersion(output: string): string | undefined {
  return /v(\d+)\.(\d+)\.(\d+)/.exec(output)?.[0];
}

async function checkTool(tool: ToolCheck["tool"], binary: string, args: string[]): Promise<ToolCheck> {
  try {
    const { stdout } = await runTool({ binary, args, timeoutMs: 20_000, maxOutputBytes: 64 * 1024 });
    const version = parseToolVersion(stdout);
    if (!version)
      return { tool, binary, ok: false, error: `\`${tool} ${args.join(" ")}\` printed no version` };
    const major = Number(version.slice(1).split(".")[0]);
    if (!SUPPORTED[tool].includes(major)) {
      return {
        tool,
        binary,
        ok: false,
        version,
        error: `${version} is not supported (need v${SUPPORTED[tool].join(" or v")})`,
      };
    }
    return { tool, binary, ok: true, version };
  } catch (err) {
    const env = tool === "kustomize" ? "GITOPS_BOT_KUSTOMIZE" : "GITOPS_BOT_HELM";
    const why =
      err instanceof ToolError && err.reason === "not-found"
        ? `not found: install it or set ${env}`
        : (err as Error).message;
    return { tool, binary, ok: false, error: why };
  }
}

export async function checkTools(): Promise<ToolCheck[]> {
  return Promise.all([
    checkTool("kustomize", kustomizeBinary(), ["version"]),
    checkTool("helm", helmBinary(), ["version", "--short"]),
  ]);
}
