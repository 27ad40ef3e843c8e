"""Build a driver written with the SDK (manila_driver) into a component.

    build-driver my_driver -o my_driver.wasm

MODULE is the driver's module, the one that exports the driver class with
manila_driver.export. It is looked for in the current directory, then in
each --path. componentize-py (0.25.1, installed in this Python) builds it,
with manila_driver and the WIT contract this SDK comes with, into a
component of the contract's driver world. Then check it with
`privdata check-driver my_driver.wasm`.
"""

import argparse
import importlib.machinery
import os
import sys
import tempfile

from privdata_driver_sdk import componentize, componentize_py, stage_sdk, wit_dir

PROG = "build-driver"


def fail(message):
    sys.exit(PROG + ": " + message)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", metavar="MODULE", help="the driver's module: my_driver, or package.module")
    parser.add_argument("-o", "--output", required=True, help="the component to write (.wasm)")
    parser.add_argument(
        "--path", action="append", default=[], help="a directory to import modules from, beyond the current one (repeat)"
    )
    args = parser.parse_args()
    if args.module.endswith(".py") or not all(part.isidentifier() for part in args.module.split(".")):
        fail("%r is not a module's name: for my_driver.py, give my_driver" % args.module)
    if os.path.isdir(args.output):
        fail("%s is a directory: name the .wasm file to write" % args.output)
    paths = [os.path.abspath(p) for p in ["."] + args.path]
    for given, path in zip(args.path, paths[1:]):
        if not os.path.isdir(path):
            fail("--path %s is not a directory" % given)
    top = args.module.split(".")[0]
    if importlib.machinery.PathFinder.find_spec(top, paths) is None:
        fail("no module %s in %s" % (top, ", ".join(paths)))
    command = componentize_py(PROG)
    wit = wit_dir(PROG)
    with tempfile.TemporaryDirectory(prefix="build-driver-") as work:
        sdk = stage_sdk(PROG, work)
        size = componentize(PROG, command, wit, [sdk] + paths, args.module, args.output, cwd=work)
    print("built %s: %s, %.1f MB" % (args.output, args.module, size / 1e6))


if __name__ == "__main__":
    main()
