// The scratch space of one work tree's builds: a private directory beside the tree (never inside it, and no
// repository string in its path) holding the HOME/TMPDIR every kustomize run of that tree shares and the overlay
// directories its builds write their generated kustomization.yaml into, reused from a pool. A cold run of 100
// Kustomizations made and removed 200 directories for these; on a disk that was a tenth of the engine's CPU.
// Sharing is only within one work tree — one repository's content in one run — and the whole space goes when the
// tree is cleaned up. A work tree that did not come from prepareWorkTree gets fresh directories per build.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface Scratch {
  dir: string;
  /** Overlay directories not in use by a build now. */
  free: string[];
  made: number;
}

const scratches = new Map<string, Scratch>();

function scratchOf(root: string): Scratch {
  let scratch = scratches.get(root);
  if (!scratch) {
    const dir = mkdtempSync(join(tmpdir(), "gitops-bot-scratch-"));
    mkdirSync(join(dir, "home"));
    scratch = { dir, free: [], made: 0 };
    scratches.set(root, scratch);
  }
  return scratch;
}

/** The HOME (and TMPDIR) kustomize runs of the work tree at `root` share. */
export function toolHome(root: string): string {
  return join(scratchOf(root).dir, "home");
}

/**
 * An empty-or-reused overlay directory for one build of the work tree at `root`; give it back with `release`.
 * A reused one holds only the kustomization.yaml of its last build, which the next build overwrites.
 */
export function acquireOverlay(root: string): { dir: string; release(): void } {
  const scratch = scratchOf(root);
  let dir = scratch.free.pop();
  if (!dir) {
    // Named as kustomize-errors.ts knows overlays, so that messages show "(the overlay for spec.path)".
    dir = join(scratch.dir, `gitops-bot-overlay-${scratch.made++}`);
    mkdirSync(dir);
  }
  const taken = dir;
  return { dir: taken, release: () => scratch.free.push(taken) };
}

/** Removes the scratch space of the work tree at `root` (prepareWorkTree's cleanup calls it). */
export function removeScratch(root: string): void {
  const scratch = scratches.get(root);
  if (!scratch) return;
  scratches.delete(root);
  rmSync(scratch.dir, { recursive: true, force: true });
}
