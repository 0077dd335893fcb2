// `npm run bench [suite...]`: runs the benchmark suites (all by default), each printing its own table.
import { existsSync } from "node:fs";
import { stopBenchCluster } from "./support/cluster.js";

const suites = ["engine", "github", "images", "helm", "metrics", "replicas", "flux", "noop", "schedule"];

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !suites.includes(w));
  if (unknown.length > 0)
    throw new Error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${suites.join(", ")}`);
  try {
    for (const name of wanted.length > 0 ? wanted : suites) {
      const file = new URL(`./${name}.js`, import.meta.url);
      if (!existsSync(file)) {
        console.log(`\n(${name}: no benchmark yet)`);
        continue;
      }
      const suite = (await import(file.href)) as { run: () => Promise<void> };
      await suite.run();
    }
  } finally {
    await stopBenchCluster();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
