"""Test-session settings: the suite never writes into the user's JAX compilation cache (the
``optexec`` command turns that cache on; subprocesses inherit this environment)."""

import os

os.environ["OPTEXEC_NO_JAX_CACHE"] = "1"
