"""Manila's in-tree drivers, in-tree and sandboxed: the same ShareManager
lifecycle against the same fake array, wall time side by side.

    PRIVDATA_QNAP_DRIVER=qnap.wasm PRIVDATA_POWERSCALE_DRIVER=powerscale.wasm \\
        python python/bench/in_tree_bench.py [--rounds N]

The lifecycle is python/tests/in_tree_suite.py's (22 steps: shares,
access rules, snapshots, a share from one, extend, shrink, revert, manage,
a restart, deletes). Each round runs both deployments, in turn, each in a
fresh Manila database; the first round (imports, the component's first
compile) is left out. Prints the median of the rest and the ratio, then
what one call costs on a live instance when the array is not involved,
then the memory a live instance of each driver takes: the process's resident
memory before and after four backends of it each set up an instance
(against its fake array) and answered get_stats.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

import in_tree_suite as suite  # noqa: E402

TIMES = {}  # driver -> deployment -> seconds of each round
STEPS = {}  # driver -> deployment -> step -> seconds of each round


class Rounds(suite.InTreeDriverTest):
    def round(self):
        times = TIMES.setdefault(self.driver.name, {suite.UNSANDBOXED: [], suite.SANDBOXED: []})
        order = (suite.UNSANDBOXED, suite.SANDBOXED)
        if len(times[suite.SANDBOXED]) % 2:
            order = order[::-1]
        for deployment in order:
            started = time.perf_counter()
            self.lifecycle(deployment)
            times[deployment].append(time.perf_counter() - started)
            steps = STEPS.setdefault(self.driver.name, {}).setdefault(deployment, {})
            for step, seconds in self.runs[deployment].seconds.items():
                steps.setdefault(step, []).append(seconds)


class QnapRounds(Rounds, suite.test.TestCase):
    driver = suite.Qnap()


class PowerScaleRounds(Rounds, suite.test.TestCase):
    driver = suite.PowerScale()


def resident_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def backends_of(driver, array, scratch):
    """A function making backend ``i`` of ``driver`` against ``array``,
    its store and cache in ``scratch``."""
    import privdata

    store = privdata.Store("sqlite://" + os.path.join(scratch, "privdata.db"))
    section = {"driver_handles_share_servers": "False", "share_backend_name": driver.backend_name}
    section.update({k: str(v) for k, v in driver.options(array).items()})
    component = os.environ[driver.environment]

    def backend(i):
        root = os.path.join(scratch, "root%d" % i)
        os.makedirs(root, exist_ok=True)
        return privdata.Backend(
            store, "%s%d" % (driver.name, i), "bench@%s%d" % (driver.name, i), component, root,
            cache_dir=os.path.join(scratch, "cache"), allowed_outbound=[array.url],
            ca_file=getattr(array, "ca_file", None), manila_conf=section,
            limits={"max_memory_mib": 1024, "timeout_secs": 120},
        )

    return backend


def memory_per_instance(driver, backends=4):
    """MiB of resident memory a backend's loaded component and a live
    instance of it add, each the mean over `backends` backends."""
    with driver.array() as array, tempfile.TemporaryDirectory() as scratch:
        backend = backends_of(driver, array, scratch)
        backend(backends)  # compiled once into the cache, as a restart finds it
        start = resident_mib()
        made = [backend(i) for i in range(backends)]
        loaded = resident_mib()
        for b in made:
            b.get_stats()
        live = resident_mib()
    return (loaded - start) / backends, (live - loaded) / backends


def call_overhead(driver, calls=2000, rounds=5):
    """Microseconds one `unmanage` takes on a live instance, through the
    host, the component boundary, the Manila adapter and the driver's own
    method, which does not call the array (QNAP's deletes the share's
    private data, PowerScale's logs a line): the median of `rounds` rounds
    of `calls` calls."""
    share = {"id": "4d5fd1b3-5d7a-4b5e-9d3c-6c1f3a0b8e21", "share_id": "4d5fd1b3-5d7a-4b5e-9d3c-6c1f3a0b8e21",
             "name": "share-4d5fd1b3", "size_gib": 1, "protocol": "NFS"}
    with driver.array() as array, tempfile.TemporaryDirectory() as scratch:
        backend = backends_of(driver, array, scratch)(0)
        backend.get_stats()
        requests = array.request_count
        figures = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(calls):
                backend.unmanage(share)
            figures.append((time.perf_counter() - started) / calls * 1e6)
        if array.request_count != requests:
            raise RuntimeError("%s's unmanage called the array: not the overhead alone" % driver.name)
    return statistics.median(figures)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per driver, the first left out")
    args = parser.parse_args()
    for environment in (suite.Qnap.environment, suite.PowerScale.environment):
        if not os.environ.get(environment):
            sys.exit("set $%s to the driver's component (.wasm)" % environment)
    suite._required_options_set()
    loader = unittest.TestSuite()
    for case in (QnapRounds, PowerScaleRounds):
        for _ in range(max(args.rounds, 2)):
            loader.addTest(case("round"))
    result = unittest.TextTestRunner(verbosity=0).run(loader)
    if not result.wasSuccessful():
        return 1
    print("\nwhole ShareManager lifecycle, median of %d rounds (the first left out), seconds" % (args.rounds - 1))
    print("%-12s %12s %12s %8s" % ("driver", "in-tree", "sandboxed", "ratio"))
    for driver, times in TIMES.items():
        tree = statistics.median(times[suite.UNSANDBOXED][1:])
        boxed = statistics.median(times[suite.SANDBOXED][1:])
        print("%-12s %12.2f %12.2f %8.2f" % (driver, tree, boxed, boxed / tree))
    print("\nwhere the sandboxed lifecycle's extra time goes: the five steps that gain most, ms (median)")
    print("%-12s %-34s %10s %10s %8s" % ("driver", "step", "in-tree", "sandboxed", "extra"))
    for driver, deployments in STEPS.items():
        tree, boxed = deployments[suite.UNSANDBOXED], deployments[suite.SANDBOXED]
        extra = {step: statistics.median(boxed[step][1:]) - statistics.median(tree[step][1:]) for step in tree}
        for step in sorted(extra, key=extra.get, reverse=True)[:5]:
            print("%-12s %-34s %10.1f %10.1f %8.1f" % (
                driver, step, 1e3 * statistics.median(tree[step][1:]), 1e3 * statistics.median(boxed[step][1:]),
                1e3 * extra[step]))
        print("%-12s %-34s %10s %10s %8.1f" % (driver, "all steps", "", "", 1e3 * sum(extra.values())))
    print("\na call on a live instance (unmanage: host, boundary, Manila adapter, driver), µs, median of 5 x 2000")
    for driver in (suite.Qnap(), suite.PowerScale()):
        print("%-12s %12.1f" % (driver.name, call_overhead(driver)))
    print("\nresident memory per backend, MiB (mean of four)")
    print("%-12s %12s %14s" % ("driver", "loaded", "live instance"))
    for driver in (suite.Qnap(), suite.PowerScale()):
        loaded, live = memory_per_instance(driver)
        print("%-12s %12.1f %14.1f" % (driver.name, loaded, live))
    return 0


if __name__ == "__main__":
    sys.exit(main())
