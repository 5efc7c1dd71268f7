# Only the optional C accelerators live here (setuptools < 68 cannot declare extensions in
# pyproject.toml); everything else is in pyproject.toml. optional=True: without a compiler the
# pure-Python paths are used.
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("lbcli.model._maglev", ["lbcli/model/_maglev.c"], optional=True, extra_compile_args=["-O2"]),
        # finding positions over libyaml (Debian: libyaml-dev); without it positions.py walks
        # PyYAML's events
        Extension("lbcli.manifest._yamlpos", ["lbcli/manifest/_yamlpos.c"], libraries=["yaml"], optional=True,
                  extra_compile_args=["-O2"]),
    ]
)
