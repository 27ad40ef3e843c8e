"""Adds the WIT contract, the repository's wit/ (deps/ included), to the
package privdata_driver_sdk as privdata_driver_sdk/wit/, in the build
directory only: the clone keeps one copy. An sdist carries it as wit/
beside this file. The rest is in pyproject.toml."""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))


def contract():
    """wit/ beside this file (an sdist), or the clone's ../wit."""
    for path in (os.path.join(HERE, "wit"), os.path.join(os.path.dirname(HERE), "wit")):
        if os.path.isfile(os.path.join(path, "world.wit")):
            return path
    raise SystemExit("privdata-driver-sdk: the WIT contract is missing: no wit/world.wit beside %s or above it" % HERE)


def copy_contract(target):
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(contract(), target, ignore=shutil.ignore_patterns(".*", "*~"))


class BuildPy(build_py):
    def run(self):
        # A build directory left by an earlier build must not bring back a
        # file since deleted.
        for package in ("manila_driver", "privdata_driver_sdk"):
            shutil.rmtree(os.path.join(self.build_lib, package), ignore_errors=True)
        super().run()
        # An editable install runs the clone's code, which finds the clone's wit/.
        if not getattr(self, "editable_mode", False):
            copy_contract(os.path.join(self.build_lib, "privdata_driver_sdk", "wit"))


class Sdist(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        copy_contract(os.path.join(base_dir, "wit"))


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
