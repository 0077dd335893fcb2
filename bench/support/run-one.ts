// `node dist-bench/bench/support/run-one.js <suite>`: runs one suite outside bench/run.ts's list (for suites not
// registered there yet), with the same bench cluster start and stop.
import { stopBenchCluster } from "./cluster.js";

const name = process.argv[2];
if (!name || !/^[a-z-]+$/.test(name)) throw new Error("usage: run-one.js <suite>");
try {
  const suite = (await import(new URL(`../${name}.js`, import.meta.url).href)) as {
    run: () => Promise<void>;
  };
  await suite.run();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await stopBenchCluster();
}
