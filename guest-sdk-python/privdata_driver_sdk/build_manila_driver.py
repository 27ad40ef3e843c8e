"""Build a Manila share driver, its source unchanged, into a component.

    build-manila-driver manila.share.drivers.qnap.qnap.QnapShareDriver -o qnap.wasm

Run it with the Python that has the driver installed (Manila's own
virtualenv, with privdata-driver-sdk installed there too: the driver, Manila
and oslo come from there, and a vendor's package given with --path). It
finds what the driver imports (with the sandbox's stand-ins for what cannot
run there), copies those packages, pure Python only, into a staging
directory, and has componentize-py (0.25.1, installed in this Python) build
the component around manila_driver.manila's adapter. Then check it with
`privdata check-driver qnap.wasm --option ...`.
"""

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile

from privdata_driver_sdk import componentize, componentize_py, stage_sdk, wit_dir

PROG = "build-manila-driver"

# Run in a child interpreter: the stand-ins, the driver's import and the
# preload, then the file of every module loaded.
PROBE = r"""
import importlib.util, json, os, sys
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
sdk, driver, also = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
environment = load("privdata_environment", os.path.join(sdk, "manila_driver", "manila", "environment.py"))
preload = load("manila_driver.manila.preload", os.path.join(sdk, "manila_driver", "manila", "preload.py"))
environment.prepare()
module_name, _, class_name = driver.rpartition(".")
module = importlib.import_module(module_name)
getattr(module, class_name)
environment._freeze_entry_points()
environment._load_plugins(module_name.rpartition(".")[0])
preload.everything(module_name.rpartition(".")[0], also)
files = {}
for name, m in list(sys.modules.items()):
    f = getattr(m, "__file__", None)
    if f and "." not in name:
        files[name] = f
print(json.dumps(files))
"""


def fail(message):
    sys.exit(PROG + ": " + message)


def site_roots(extra):
    """Directories third-party packages come from: site-packages and the
    vendor's --path."""
    import site
    import sysconfig

    roots = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages(), *extra]
    return sorted({os.path.realpath(r) for r in roots if os.path.isdir(r)})


def packages_to_stage(files, roots):
    """Top-level modules loaded from ``roots``: name -> the package's
    directory or the module's file."""
    staged = {}
    for name, path in files.items():
        path = os.path.realpath(path)
        root = next((r for r in roots if path.startswith(r + os.sep)), None)
        if root is None:
            continue
        top = os.path.relpath(path, root).split(os.sep)[0]
        staged[name] = os.path.join(root, top)
    return staged


def copy_pure(source, target):
    """Copy a package without compiled extensions, caches or tests."""

    def ignore(directory, names):
        return [
            n
            for n in names
            if n == "__pycache__" or n.endswith((".so", ".pyd", ".pyc", ".dylib")) or n in ("tests", "test")
        ]

    if os.path.isdir(source):
        shutil.copytree(source, target, ignore=ignore)
    else:
        shutil.copy2(source, target)


def dist_infos(names):
    """The metadata directories of the distributions that provide
    ``names``, for their entry points."""
    providers = importlib.metadata.packages_distributions()
    out = set()
    for name in names:
        for dist_name in providers.get(name, []):
            dist = importlib.metadata.distribution(dist_name)
            path = getattr(dist, "_path", None)
            if path and os.path.isdir(path):
                out.add(str(path))
    return sorted(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("driver", help="the driver's class, package.module.Class")
    parser.add_argument("-o", "--output", required=True, help="the component to write (.wasm)")
    parser.add_argument("--path", action="append", default=[], help="a directory the driver's package is in (repeat)")
    parser.add_argument("--also", action="append", default=[], help="a module to load beyond the usual (repeat)")
    args = parser.parse_args()
    if args.driver.count(".") < 1:
        fail("%r is not package.module.Class" % args.driver)
    if os.path.isdir(args.output):
        fail("%s is a directory: name the .wasm file to write" % args.output)
    command = componentize_py(PROG)
    wit = wit_dir(PROG)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(args.path + [os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory(prefix="build-manila-driver-") as work:
        sdk = stage_sdk(PROG, work)
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, sdk, args.driver, json.dumps(args.also)],
            capture_output=True,
            text=True,
            env=env,
        )
        if probe.returncode != 0:
            fail("importing %s failed:\n%s" % (args.driver, probe.stderr.strip()))
        files = json.loads(probe.stdout.strip().splitlines()[-1])
        staged = packages_to_stage(files, site_roots(args.path))
        site = os.path.join(work, "site")
        os.makedirs(site)
        for name, source in sorted(staged.items()):
            target = os.path.join(site, os.path.basename(source))
            if not os.path.exists(target):
                copy_pure(source, target)
        for info in dist_infos(staged):
            shutil.copytree(info, os.path.join(site, os.path.basename(info)))
        app = os.path.join(work, "app")
        os.makedirs(app)
        with open(os.path.join(app, "privdata_manila_app.py"), "w") as f:
            f.write(
                '"""The component: %s, behind the contract."""\n'
                "from manila_driver.manila import export_manila_driver\n\n"
                "ShareDriver = export_manila_driver(%r, also=%r)\n" % (args.driver, args.driver, args.also)
            )
        size = componentize(PROG, command, wit, [sdk, site, app], "privdata_manila_app", args.output, cwd=work)
    print("built %s: %s, %.1f MB, %d packages" % (args.output, args.driver, size / 1e6, len(staged)))


if __name__ == "__main__":
    main()
