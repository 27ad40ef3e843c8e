"""The build tooling of privdata's Python driver SDK: ``build-driver`` and
``build-manila-driver``. It runs on the build machine, never inside a
component: what a driver imports is ``manila_driver``.

Installed with pip, the WIT contract is this package's ``wit/``; run from a
clone of the repository, it is the repository's ``wit/``.
"""

import importlib.metadata
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COMPONENTIZE_PY = "0.25.1"


def fail(prog, message):
    sys.exit("%s: %s" % (prog, message))


def wit_dir(prog):
    """The WIT contract: the one installed with this package, or the clone's."""
    for candidate in (os.path.join(HERE, "wit"), os.path.join(os.path.dirname(os.path.dirname(HERE)), "wit")):
        if os.path.isfile(os.path.join(candidate, "world.wit")):
            return candidate
    fail(prog, "the WIT contract is missing from %s (reinstall privdata-driver-sdk)" % HERE)


def stage_sdk(prog, work):
    """Copy ``manila_driver``, its .py files, into ``work/sdk`` and return
    that directory, for componentize-py's ``-p``: it then sees nothing else
    of where the SDK is installed, and writes its caches into the copy."""
    package = os.path.join(os.path.dirname(HERE), "manila_driver")
    if not os.path.isfile(os.path.join(package, "__init__.py")):
        fail(prog, "manila_driver is missing beside %s (reinstall privdata-driver-sdk)" % HERE)

    def ignore(directory, names):
        return [n for n in names if n == "__pycache__" or not (n.endswith(".py") or os.path.isdir(os.path.join(directory, n)))]

    sdk = os.path.join(work, "sdk")
    shutil.copytree(package, os.path.join(sdk, "manila_driver"), ignore=ignore)
    return sdk


def componentize_py(prog):
    """The command that runs componentize-py, once the version installed in
    this Python is checked to be the one the SDK is built with."""
    try:
        version = importlib.metadata.version("componentize-py")
    except importlib.metadata.PackageNotFoundError:
        fail(prog, "componentize-py is not installed in %s: pip install componentize-py==%s" % (sys.executable, COMPONENTIZE_PY))
    if version != COMPONENTIZE_PY:
        fail(prog, "componentize-py %s is installed; the SDK is built with %s: pip install componentize-py==%s"
             % (version, COMPONENTIZE_PY, COMPONENTIZE_PY))
    found = shutil.which("componentize-py", path=os.path.dirname(sys.executable)) or shutil.which("componentize-py")
    if found:
        return [found]
    # componentize_py has no __main__: call what its console script calls.
    return [sys.executable, "-c", "import sys, componentize_py; sys.argv[0] = 'componentize-py'; sys.exit(componentize_py.script())"]


def componentize(prog, command, wit, python_path, module, output, cwd):
    """Build ``module`` into a component of the ``driver`` world of ``wit``
    at ``output``, written to ``output.part`` and renamed once complete;
    returns its size in bytes."""
    target = os.path.abspath(output)
    part = target + ".part"
    args = ["-d", wit, "-w", "driver", "componentize"]
    for directory in python_path:
        args += ["-p", directory]
    built = subprocess.run(command + args + [module, "-o", part], cwd=cwd)
    if built.returncode != 0:
        if os.path.exists(part):
            os.remove(part)
        fail(prog, "componentize-py failed (see above); nothing was written to %s" % output)
    os.replace(part, target)
    return os.path.getsize(target)
