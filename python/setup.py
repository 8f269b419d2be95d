"""Build step of the attnc package: bundle libattnc into it.

`python3 -m pip install ./python` runs this. The library comes from, in
order: $ATTNC_LIBRARY (a file or a folder holding libattnc.so.0); the
repository's build/ folder (scripts/quickstart.sh builds it); else CMake
builds the `attnc` target into build/ (minutes on two cores). Set
ATTNC_NO_BUNDLE=1 to ship no library: the package then finds one at import
time ($ATTNC_LIBRARY, the source tree's build/ or .device/, the system).
The source tree's path is recorded in attnc/_build_info.py either way.
"""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SONAME = "libattnc.so.0"


def source_root():
    return ROOT if os.path.isfile(os.path.join(ROOT, "runtime", "include", "attnc.h")) else None


def log(msg):
    print(f"attnc build: {msg}", file=sys.stderr)


def cmake_build(root):
    cmake = shutil.which("cmake")
    if not cmake:
        return None
    build = os.path.join(root, "build")
    log(f"no libattnc in {build}/lib: building it with CMake (the attnc target)")
    jobs = str(os.cpu_count() or 2)
    subprocess.check_call([cmake, "-S", root, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
    subprocess.check_call([cmake, "--build", build, "--target", "attnc", "-j", jobs])
    path = os.path.join(build, "lib", SONAME)
    return path if os.path.exists(path) else None


def find_library():
    env = os.environ.get("ATTNC_LIBRARY")
    if env:
        path = os.path.join(env, SONAME) if os.path.isdir(env) else env
        if not os.path.exists(path):
            raise SystemExit(f"attnc build: ATTNC_LIBRARY={env} has no {SONAME}")
        return path
    root = source_root()
    if root is None:
        return None
    path = os.path.join(root, "build", "lib", SONAME)
    if os.path.exists(path):
        return path
    return cmake_build(root)


class BuildPy(build_py):
    def run(self):
        super().run()
        pkg = os.path.join(self.build_lib, "attnc")
        root = source_root()
        with open(os.path.join(pkg, "_build_info.py"), "w") as f:
            f.write('"""Written by setup.py when the package was built."""\n')
            f.write(f"SOURCE_ROOT = {root!r}\n")
        if getattr(self, "editable_mode", False) or os.environ.get("ATTNC_NO_BUNDLE"):
            return
        lib = find_library()
        if lib is None:
            log("no libattnc found or built: the package will look for one when imported")
            return
        os.makedirs(os.path.join(pkg, "_lib"), exist_ok=True)
        dest = os.path.join(pkg, "_lib", SONAME)
        shutil.copyfile(os.path.realpath(lib), dest)
        os.chmod(dest, 0o755)
        log(f"bundled {os.path.realpath(lib)}")


class BdistWheel(bdist_wheel):
    """The wheel holds a native library: tag it for this platform, any
    Python 3 (ctypes needs no ABI)."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel})
