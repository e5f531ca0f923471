"""functions/doctor.py: what `python main.py doctor` prints when the configuration is missing."""

import argparse
import io

from functions.cli.common import Context
from functions.doctor import CHECKS, run_doctor
from infra.config import ConfigError


def test_without_a_configuration_only_that_fails_and_the_rest_is_skipped():
    def no_config():
        raise ConfigError("GOOGLE_CLOUD_PROJECT is not set")

    out = io.StringIO()
    ctx = Context(store_factory=no_config, config_factory=no_config)
    assert run_doctor(ctx, argparse.Namespace(user=""), out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:2] == ["FAIL", "configuration"]
    assert "admin_env" in lines[1] and "step 7" in lines[1]
    assert sum(line.lstrip().startswith("skip") for line in lines) == len(CHECKS) - 1
    assert lines[-1] == "1 check(s) failed"
