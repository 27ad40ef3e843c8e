"""Both of Manila's concurrency backends, with a sandboxed driver waiting on
a slow array.

manila-share runs on native threads, or on eventlet when
OS_MANILA_DISABLE_EVENTLET_PATCHING selects it (manila/monkey_patch.py).
Each run here is a process that starts the way manila-share does (Manila's
``monkey_patch.patch()`` with the variable set or not), builds a
``privdata.manila.WasmShareDriver`` over the REST example driver with two
instances, and, while one share's create waits three seconds on the array:

- a heartbeat (a thread, green under eventlet, as the service's is) keeps
  ticking: under eventlet, a call that held the OS thread would stop it;
- another share's create on the same backend completes.

Run: python python/tests/concurrency_suite.py (exit code 0 when both pass).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DRIVERS = os.environ.get("PRIVDATA_DRIVERS") or os.path.join(REPO, "target", "drivers")
SLOW = 3.0  # seconds the array takes over the first create
TICK = 0.05

# The service: run in a child process, whose concurrency backend is chosen
# before anything else is imported. It prints what happened as JSON.
SERVICE = r"""
import sys
from manila import monkey_patch
monkey_patch.patch()
import json, threading, time, uuid
from oslo_config import cfg
from manila.share import configuration, driver
import privdata.manila

array, component, state = sys.argv[1], sys.argv[2], sys.argv[3]
CONF = cfg.CONF
CONF([], project="manila", default_config_files=[])
CONF.set_override("state_path", state)
conf = configuration.Configuration(driver.share_opts, config_group="rest")
conf.append_config_values(privdata.manila.opts.privdata_opts)
conf.append_config_values(privdata.manila.opts.wasm_driver_opts)
for name, value in {
    "driver_handles_share_servers": False,
    "privdata_storage_url": "sqlite://%s/privdata.db" % state,
    "privdata_driver": component,
    "privdata_options": {"api_url": array, "api_token": "token"},
    "privdata_allowed_outbound": [array],
    "privdata_max_instances": 2,
    "privdata_timeout": 30,
}.items():
    CONF.set_override(name, value, group="rest")
backend = privdata.manila.WasmShareDriver(configuration=conf)
backend.do_setup(None)
backend.check_for_setup_error()

events, ticks = {}, []
stop = threading.Event()

def heartbeat():
    while not stop.is_set():
        ticks.append(time.monotonic())
        time.sleep(TICK)

def create(name):
    share = {"id": str(uuid.uuid4()), "size": 1, "share_proto": "NFS", "display_name": name}
    events[name + " started"] = time.monotonic()
    backend.create_share(None, share)
    events[name + " done"] = time.monotonic()

beat = threading.Thread(target=heartbeat)
beat.start()
slow = threading.Thread(target=create, args=("slow",))
slow.start()
time.sleep(0.5)
fast = threading.Thread(target=create, args=("fast",))
fast.start()
fast.join(); slow.join()
stop.set(); beat.join()
print(json.dumps({
    "patched": monkey_patch.is_patched(),
    "events": events,
    "ticks_while_slow": sum(events["slow started"] < t < events["slow done"] for t in ticks),
    "instances": backend.backend.instances,
}))
""".replace("TICK", str(TICK))


class Array:
    """python/tests/fake_array.py in a process of its own."""

    def __init__(self):
        script = os.path.join(HERE, "fake_array.py")
        self.process = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, text=True)
        self.url = "http://127.0.0.1:%s" % self.process.stdout.readline().strip()

    def delay_next_create(self, seconds):
        request = urllib.request.Request(
            self.url + "/control/delay", data=json.dumps({"seconds": seconds}).encode(), method="PUT"
        )
        urllib.request.urlopen(request).read()

    def volumes(self):
        return json.load(urllib.request.urlopen(self.url + "/state"))["volumes"]

    def stop(self):
        self.process.kill()
        self.process.wait()


class ConcurrencyTest(unittest.TestCase):
    def run_service(self, eventlet):
        array = Array()
        self.addCleanup(array.stop)
        array.delay_next_create(SLOW)
        state = tempfile.mkdtemp(prefix="privdata-concurrency-")
        env = dict(os.environ)
        env.pop("OS_MANILA_DISABLE_EVENTLET_PATCHING", None)
        if eventlet:
            env["OS_MANILA_DISABLE_EVENTLET_PATCHING"] = "false"
        component = os.path.join(DRIVERS, "rest_driver.wasm")
        run = subprocess.run(
            [sys.executable, "-c", SERVICE, array.url, component, state],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(run.returncode, 0, run.stderr[-3000:])
        report = json.loads(run.stdout.strip().splitlines()[-1])
        self.assertEqual(report["patched"], eventlet, "the service started on the wrong backend")
        self.assertEqual(len(array.volumes()), 2, "both shares exist on the array")
        return report

    def check(self, report):
        events = report["events"]
        self.assertGreaterEqual(events["slow done"] - events["slow started"], SLOW * 0.9, events)
        self.assertLess(events["fast done"], events["slow done"], "the other share waited for the slow one")
        # A tick every 50 ms: 60 while the array waits. A call that held the
        # process's one OS thread under eventlet would let through one or two.
        self.assertGreaterEqual(report["ticks_while_slow"], 10, report)
        self.assertEqual(report["instances"], [2, 2], "two instances, each set up once")

    def test_native_threads(self):
        self.check(self.run_service(eventlet=False))

    def test_eventlet(self):
        self.check(self.run_service(eventlet=True))


if __name__ == "__main__":
    unittest.main(verbosity=2)
